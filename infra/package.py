"""Build the Lambda package and check it before anything is deployed: `make package`,
`make check-templates`.

    python -m infra.package --stage NAME [--check-only]

1. package (skipped with --check-only, which re-checks an existing build/package):
   `chalice package --stage NAME --merge-template <infra/chalice-merge.yaml as JSON> build/package`,
   then boto3, botocore and s3transfer are taken out of deployment.zip: PynamoDB pulls botocore
   in, and the Lambda Python runtime provides all three.
2. events: every SQS event source of the SAM template has FunctionResponseTypes
   ReportBatchItemFailures (the handlers return Powertools' partial-batch response).
3. artefact: deployment.zip is unzipped into a temporary folder and
   - every distribution (`*.dist-info/WHEEL`) has a tag Lambda's x86_64 runtime (the Python
     running this, pyproject.toml's requires-python: python3.13) accepts: py3-none-any, or
     manylinux x86_64 (glibc at most 2.34 on Amazon Linux 2023; 2.26 for python3.11 and older,
     on Amazon Linux 2) for that CPython or abi3. A `linux_x86_64` tag fails loudly: it is a
     wheel compiled on the build machine, which Chalice accepts silently (the Pillow trap, see
     requirements.txt);
   - every compiled file (`*.so`) is an x86-64 ELF, for that CPython when it says, needs no
     newer glibc than the runtime's, and comes from such a manylinux distribution;
   - the unzipped size is below 100 MB (1 MB = 2^20 bytes, as in Lambda's quotas);
   - no test or dev dependency is inside (moto, pytest, hypothesis, boto3/botocore, Chalice's
     command-line dependencies, the linters), nor a tests/, infra/ or bench/ folder.
4. cfn-lint on infra/template.yaml and build/package/sam.json.
5. checkov on both templates. Without a Prisma Cloud account checkov reports no severities, so
   every finding counts: each is either fixed or suppressed in the template with its reason
   (`Metadata: checkov: skip:` in infra/template.yaml, or in infra/chalice-merge.yaml for the
   generated resources), and a suppression without a reason fails too. checkov pins boto3 to
   an older release than ours, so it runs from its own virtualenv, build/checkov-venv, created
   on first use (about a minute); it is run without any call to Prisma Cloud.

Prints one line per check and exits non-zero when one fails.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.deploy import DEFAULT_LOG_RETENTION_DAYS, LOG_RETENTION_DAYS

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_DIR / "build"
PACKAGE_DIR = BUILD_DIR / "package"
MERGE_TEMPLATE = PROJECT_DIR / "infra" / "chalice-merge.yaml"
INFRA_TEMPLATE = PROJECT_DIR / "infra" / "template.yaml"
SAM_TEMPLATE_NAME = "sam.json"
ZIP_NAME = "deployment.zip"

CHECKOV_REQUIREMENT = "checkov==3.3.30"
CHECKOV_VENV = BUILD_DIR / "checkov-venv"

MAX_UNZIPPED_MB = 100
MB = 1024 * 1024
# The functions' runtime is the Python that runs Chalice (pyproject.toml's requires-python).
PYTHON_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"
MACHINE = "x86_64"
# python3.11 and older run on Amazon Linux 2 (glibc 2.26), python3.12 and newer on Amazon Linux
# 2023 (glibc 2.34).
LAMBDA_GLIBC = (2, 34) if sys.version_info[:2] >= (3, 12) else (2, 26)
MANYLINUX_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}

# In the Lambda Python runtime already; PynamoDB's dependency on botocore brings them in.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# Test and development tools, and what only Chalice's command line needs.
FORBIDDEN_DISTRIBUTIONS = {
    "moto", "pytest", "pytest-xdist", "hypothesis", "boto3", "botocore", "s3transfer", "chalice", "click",
    "inquirer", "pip", "wheel", "cfn-lint", "checkov", "jsonschema-path",
}
FORBIDDEN_TOP_LEVEL = {"moto", "pytest", "_pytest", "xdist", "hypothesis", "boto3", "botocore", "s3transfer",
                       "click", "inquirer", "pip", "cfnlint", "checkov", "tests", "infra", "bench"}
# Chalice copies its runtime (the Chalice class and friends) into the package, nothing else.
CHALICE_RUNTIME_FILES = {"chalice/__init__.py", "chalice/app.py", "chalice/app.pyi", "chalice/py.typed"}

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


class PackageError(Exception):
    """A step could not run at all (as opposed to a check that found a problem)."""


@dataclass
class Report:
    lines: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, ok: bool, text: str, details: list[str] | None = None) -> None:
        self.lines.append((name, ok, text))
        print(f"{name:<9} {'ok' if ok else 'FAILED'}: {text}", flush=True)
        for detail in details or []:
            print(f"{'':<9}   {detail}", flush=True)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.lines)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _relative(path: Path) -> str:
    try:
        return path.relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------ 1. package

def chalice_environment(stage: str) -> dict[str, str]:
    env = dict(os.environ)
    # app.py names the queues it subscribes to from the stage, when Chalice imports it.
    env["SELLEROPS_STAGE"] = stage
    # Chalice wants a region even to package; the template itself uses ${AWS::Region}.
    if not env.get("AWS_DEFAULT_REGION") and not env.get("AWS_REGION"):
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    return env


def function_ids() -> dict[str, str | None]:
    """Every Lambda function app.py declares, by the logical id Chalice gives it, with the SQS
    event source of the queue consumers (None for the others)."""
    from chalice.utils import to_cfn_resource_name

    from chalicelib import registry, resources

    functions: dict[str, str | None] = {}
    for queue in resources.QUEUES:
        name = to_cfn_resource_name(queue.handler)
        functions[name] = f"{name}SqsEventSource"
    for schedule in registry.SCHEDULES:
        functions[to_cfn_resource_name(schedule.name)] = None
    if registry.ROUTES:
        functions["APIHandler"] = None
        functions["BearerToken"] = None
    return functions


def merge_template(stage: str = "dev", log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS) -> dict[str, Any]:
    """infra/chalice-merge.yaml, its `Functions` part applied to every function (function_ids);
    each function's role named as `chalice deploy` names it (the data key's policy names the
    roles that may use it) and its log group declared with its retention (`LogGroup` of
    chalice-merge.yaml), as `make deploy` sets them."""
    from chalice.utils import to_cfn_resource_name

    from infra import policy

    document = yaml.safe_load(MERGE_TEMPLATE.read_text(encoding="utf-8"))
    shared = document.get("Functions") or {}
    log_group = document.get("LogGroup") or {}
    resources_part = dict(document.get("Resources") or {})
    for function, event in function_ids().items():
        resource = json.loads(json.dumps(shared))
        if event:
            resource["Properties"] = {"Events": {event: {"Properties": {
                "FunctionResponseTypes": [REPORT_BATCH_ITEM_FAILURES]}}}}
        resources_part[function] = resource
    for function in policy.FUNCTIONS:
        chalice_name, logical_id = policy.function_names(stage, function)
        if logical_id not in resources_part:
            continue  # e.g. no routes, hence no API handler
        resources_part[f"{to_cfn_resource_name(function)}Role"] = {
            "Properties": {"RoleName": policy.role_name(stage, function)}}
        group = json.loads(json.dumps(log_group))
        group["Type"] = "AWS::Logs::LogGroup"
        group["Properties"] = {"LogGroupName": f"/aws/lambda/{chalice_name}", "RetentionInDays": log_retention_days}
        resources_part[f"{logical_id}LogGroup"] = group
        properties = resources_part[logical_id].setdefault("Properties", {})
        properties["LoggingConfig"] = {"LogGroup": {"Ref": f"{logical_id}LogGroup"}}
    rest_api = dict(resources_part.get("RestAPI") or {})
    rest_api["Properties"] = {**(rest_api.get("Properties") or {}), "GatewayResponses": gateway_responses()}
    resources_part["RestAPI"] = rest_api
    return {"Resources": resources_part}


def gateway_responses() -> dict[str, Any]:
    """SAM's GatewayResponses for the API: API Gateway's own answers in the API's error shape."""
    from chalicelib.core.http import GATEWAY_RESPONSES

    return {response.kind: {**({} if response.keeps_status else {"StatusCode": response.status}),
                            "ResponseParameters": {"Headers": {"Content-Type": "'application/json'"}},
                            "ResponseTemplates": {"application/json": response.body()}}
            for response in GATEWAY_RESPONSES}


def merge_template_json(stage: str, log_retention_days: int) -> Path:
    """The merge template as JSON: with a YAML merge template Chalice would write sam.yaml."""
    path = BUILD_DIR / "chalice-merge.json"
    BUILD_DIR.mkdir(exist_ok=True)
    path.write_text(json.dumps(merge_template(stage, log_retention_days), indent=2) + "\n", encoding="utf-8")
    return path


def run_chalice_package(stage: str, log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS) -> None:
    merge = merge_template_json(stage, log_retention_days)
    if PACKAGE_DIR.exists():
        shutil.rmtree(PACKAGE_DIR)
    command = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())",
               "package", "--stage", stage,
               "--merge-template", _relative(merge), _relative(PACKAGE_DIR)]
    print(f"package   chalice package --stage {stage} --merge-template {_relative(MERGE_TEMPLATE)} "
          f"{_relative(PACKAGE_DIR)}", flush=True)
    result = subprocess.run(command, cwd=PROJECT_DIR, env=chalice_environment(stage), capture_output=True, text=True,
                            timeout=1800)
    if result.returncode != 0 or not (PACKAGE_DIR / ZIP_NAME).exists():
        raise PackageError(f"chalice package failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _top_level(name: str) -> str:
    return name.split("/", 1)[0]


def _distribution_of_folder(folder: str) -> str | None:
    match = re.match(r"^(.+?)-[^-]+\.(dist-info|data)$", folder)
    return _normalize(match.group(1)) if match else None


def prune_runtime_provided(zip_path: Path) -> list[str]:
    """Rewrite the zip without boto3, botocore and s3transfer; returns what was taken out."""
    runtime = {_normalize(n) for n in RUNTIME_PROVIDED}
    removed: dict[str, int] = {}
    versions: dict[str, str] = {}
    pruned = zip_path.with_suffix(".pruned.zip")
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(pruned, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            top = _top_level(info.filename)
            dist = _distribution_of_folder(top)
            name = dist if dist in runtime else _normalize(top) if _normalize(top) in runtime else None
            if name:
                removed[name] = removed.get(name, 0) + info.file_size
                if top.endswith(".dist-info"):
                    versions[name] = top[: -len(".dist-info")].rsplit("-", 1)[-1]
                continue
            target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    pruned.replace(zip_path)
    return [" ".join(filter(None, (name, versions.get(name), f"({size / MB:.1f} MB)")))
            for name, size in sorted(removed.items())]


# ------------------------------------------------------------------------------ 2. events

def check_events(report: Report, sam: dict[str, Any], stage: str) -> None:
    resources = sam.get("Resources") or {}
    problems, found = [], []
    for name, resource in resources.items():
        if "Type" not in resource:
            problems.append(f"{name}: no Type (the merge template names a resource Chalice did not generate)")
            continue
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        tags = (resource.get("Properties") or {}).get("Tags") or {}
        if "aws-chalice" in tags and f":stage={stage}:" not in tags["aws-chalice"]:
            problems.append(f"{name}: packaged for another stage ({tags['aws-chalice']})")
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            if event.get("Type") != "SQS":
                continue
            properties = event.get("Properties") or {}
            queue = json.dumps(properties.get("Queue"))
            if f"sellerops-{stage}-" not in queue:
                problems.append(f"{name}.{event_name}: subscribed to {queue}, not a queue of stage {stage}")
            if properties.get("FunctionResponseTypes") != [REPORT_BATCH_ITEM_FAILURES]:
                problems.append(f"{name}.{event_name}: FunctionResponseTypes is "
                                f"{properties.get('FunctionResponseTypes')}, not [{REPORT_BATCH_ITEM_FAILURES}]")
            else:
                found.append(f"{name}.{event_name}")
    if not found and not problems:
        problems.append("no SQS event source in the template")
    report.add("events", not problems, f"{REPORT_BATCH_ITEM_FAILURES} on " + (", ".join(found) or "nothing"), problems)


def check_roles(report: Report, sam: dict[str, Any], stage: str) -> None:
    """One role per function, each with its own policy from infra/policy.py: a function whose
    role another shares, or whose policy grants what its own does not, is a problem."""
    from chalice.utils import to_cfn_resource_name

    from infra import policy

    resources = sam.get("Resources") or {}
    problems: list[str] = []
    roles: dict[str, str] = {}
    by_logical_id = {policy.function_names(stage, f)[1]: f for f in policy.FUNCTIONS}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        role = json.dumps((resource.get("Properties") or {}).get("Role"))
        if role in roles:
            problems.append(f"{name} shares its role with {roles[role]}")
        roles[role] = name
        function = by_logical_id.get(name)
        role_id = f"{to_cfn_resource_name(function)}Role" if function else None
        statements = ((((resources.get(role_id) or {}).get("Properties") or {}).get("Policies") or [{}])[0]
                      .get("PolicyDocument") or {}).get("Statement") if role_id else None
        if function is None or statements != policy.policy_document(stage, function)["Statement"]:
            problems.append(f"{name}: its role's policy is not infra/policy.py's for it")
        elif ((resources.get(role_id) or {}).get("Properties") or {}).get("RoleName") != (
                wanted := policy.role_name(stage, function)):
            problems.append(f"{name}: its role is not named {wanted} (the key policy names it)")
    report.add("roles", not problems, f"one role per function, each with its own policy ({len(roles)} functions)",
               problems)


# ------------------------------------------------------------------------------ 3. artefact

def _glibc(platform: str) -> tuple[tuple[int, int], str] | None:
    """(glibc version, machine) of a manylinux platform tag, None for anything else."""
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", platform)
    if match:
        return (int(match.group(1)), int(match.group(2))), match.group(3)
    match = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", platform)
    if match:
        return MANYLINUX_LEGACY[match.group(1)], match.group(2)
    return None


def tag_problem(tag: str) -> str | None:
    """Why Lambda's x86_64 runtime (RUNTIME) cannot load a wheel with this tag (None: it can)."""
    try:
        interpreter, abi, platform = tag.split("-")
    except ValueError:
        return f"{tag}: not a wheel tag"
    if platform == "any":
        if abi == "none" and (interpreter.startswith("py3") or interpreter == PYTHON_TAG):
            return None
        return f"{tag}: not a pure Python 3 wheel"
    if platform.startswith("linux_"):
        return (f"{tag}: compiled on the build machine, not a manylinux wheel. Lambda may not load it; "
                "Chalice accepts linux_* wheels and builds them itself when the package index has no "
                f"manylinux wheel for {PYTHON_TAG} (the Pillow trap: pin a release that has one)")
    glibc = _glibc(platform)
    if glibc is None:
        return f"{tag}: platform {platform} is not manylinux"
    version, machine = glibc
    if machine != MACHINE:
        return f"{tag}: built for {machine}, the functions run on {MACHINE}"
    if version > LAMBDA_GLIBC:
        return (f"{tag}: needs glibc {version[0]}.{version[1]}; the {RUNTIME} runtime has "
                f"{LAMBDA_GLIBC[0]}.{LAMBDA_GLIBC[1]}")
    if abi == PYTHON_TAG and interpreter == PYTHON_TAG:
        return None
    if abi == "abi3" and re.fullmatch(r"cp3(\d+)", interpreter) and int(interpreter[3:]) <= int(PYTHON_TAG[3:]):
        return None
    if abi == "none" and interpreter in ("py3", PYTHON_TAG):
        return None
    return f"{tag}: for {interpreter}/{abi}, not CPython {PYTHON_TAG}"


def _elf_problem(path: Path) -> tuple[str | None, tuple[int, int] | None]:
    """An ELF shared object for x86-64, and the newest glibc symbol version it needs."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return "not an ELF file", None
    if data[4] != 2 or int.from_bytes(data[18:20], "little" if data[5] == 1 else "big") != 62:
        return "not an x86-64 ELF file", None
    versions = [(int(a), int(b)) for a, b in re.findall(rb"GLIBC_(\d+)\.(\d+)", data)]
    newest = max(versions) if versions else None
    if newest and newest > LAMBDA_GLIBC:
        return f"needs glibc {newest[0]}.{newest[1]} (the runtime has {LAMBDA_GLIBC[0]}.{LAMBDA_GLIBC[1]})", newest
    return None, newest


def _records(root: Path) -> dict[str, str]:
    """Installed path → distribution, from every RECORD (wheel data folders flattened, as
    Chalice installs purelib and platlib at the top)."""
    owner: dict[str, str] = {}
    for record in root.glob("*.dist-info/RECORD"):
        dist = _distribution_of_folder(record.parent.name) or record.parent.name
        for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
            path = line.split(",", 1)[0]
            path = re.sub(r"^[^/]+\.data/(purelib|platlib)/", "", path)
            owner[path] = dist
    return owner


def check_artefact(report: Report, zip_path: Path) -> None:
    zipped = zip_path.stat().st_size
    with tempfile.TemporaryDirectory(prefix="sellerops-package-") as temp:
        root = Path(temp)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(root)
        files = [p for p in root.rglob("*") if p.is_file()]
        unzipped = sum(p.stat().st_size for p in files)
        report.add("package", unzipped < MAX_UNZIPPED_MB * MB,
                   f"{_relative(zip_path)}: {unzipped / MB:.1f} MB unzipped (limit {MAX_UNZIPPED_MB} MB), "
                   f"{zipped / MB:.1f} MB zipped, {len(files)} files")

        # Wheel tags.
        tag_problems, compiled_dists = [], {}
        dist: str | None  # a distribution's name (None: no RECORD or folder names one)
        wheels = sorted(root.glob("*.dist-info/WHEEL"))
        for wheel in wheels:
            dist = _distribution_of_folder(wheel.parent.name) or wheel.parent.name
            tags = [line.split(":", 1)[1].strip() for line in wheel.read_text(encoding="utf-8").splitlines()
                    if line.startswith("Tag:")]
            tag_results = [tag_problem(tag) for tag in tags]
            if not tags:
                tag_problems.append(f"{wheel.parent.name}: no Tag in WHEEL")
            elif all(tag_results):
                tag_problems.append(f"{wheel.parent.name}: " + "; ".join(p for p in tag_results if p))
            elif not any(tag.endswith("-any") for tag, p in zip(tags, tag_results, strict=False) if p is None):
                compiled_dists[dist] = next(tag for tag, p in zip(tags, tag_results, strict=False) if p is None)

        # Compiled files.
        owners = _records(root)
        so_problems, newest_glibc = [], (0, 0)
        compiled = [p for p in files if re.search(r"\.so(\.[\d.]+)?$", p.name)]
        for path in compiled:
            relative = path.relative_to(root).as_posix()
            problem, glibc = _elf_problem(path)
            newest_glibc = max(newest_glibc, glibc or (0, 0))
            match = re.search(r"\.cpython-(\d+)-([^.]+)\.so$", path.name)
            if not problem and match and (match.group(1) != PYTHON_TAG[2:] or not match.group(2).startswith(MACHINE)):
                problem = f"built for cpython-{match.group(1)}-{match.group(2)}"
            dist = owners.get(relative)
            if not problem and dist is None:
                problem = "belongs to no distribution's RECORD (added by hand?)"
            elif not problem and dist not in compiled_dists:
                problem = f"comes from {dist}, whose wheel is not a {PYTHON_TAG} manylinux {MACHINE} build"
            if problem:
                so_problems.append(f"{relative}: {problem}")
        problems = tag_problems + so_problems
        compiled_text = ", ".join(f"{d} ({t})" for d, t in sorted(compiled_dists.items()))
        report.add("wheels", not problems,
                   f"{len(wheels)} distributions, all manylinux or py3-none-any for {MACHINE}/{PYTHON_TAG}; "
                   f"{len(compiled)} compiled files from {compiled_text or 'none'}, newest glibc symbol "
                   f"{newest_glibc[0]}.{newest_glibc[1]} (runtime {LAMBDA_GLIBC[0]}.{LAMBDA_GLIBC[1]})"
                   if not problems else f"{len(problems)} file(s) Lambda may not load", problems)

        # Contents: no dev or test dependency.
        forbidden = {_normalize(n) for n in FORBIDDEN_DISTRIBUTIONS}
        runtime = {_normalize(n) for n in RUNTIME_PROVIDED}
        content_problems = []
        for folder in sorted({p.relative_to(root).parts[0] for p in files}):
            dist = _distribution_of_folder(folder)
            if dist in runtime:
                content_problems.append(f"{folder}: {dist} is provided by the Lambda runtime")
            elif dist in forbidden:
                content_problems.append(f"{folder}: {dist} is a test or development dependency")
            elif folder.split(".")[0] in FORBIDDEN_TOP_LEVEL:
                content_problems.append(f"{folder}/: must not be deployed")
        for path in files:
            relative = path.relative_to(root).as_posix()
            if relative.startswith("chalice/") and relative not in CHALICE_RUNTIME_FILES:
                content_problems.append(f"{relative}: Chalice's command line, not its runtime")
        report.add("contents", not content_problems,
                   "no test or dev dependency (moto, pytest, hypothesis, boto3/botocore, Chalice's CLI), "
                   "no tests/, infra/ or bench/" if not content_problems else "development files in the package",
                   content_problems)


# ------------------------------------------------------------------------------ 4. cfn-lint

def check_cfn_lint(report: Report, templates: list[Path]) -> None:
    command = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
               *[_relative(t) for t in templates]]
    result = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    output = (result.stdout + result.stderr).strip().splitlines()
    names = ", ".join(_relative(t) for t in templates)
    report.add("cfn-lint", result.returncode == 0,
               f"{names}: no finding" if result.returncode == 0 else f"{names}: exit {result.returncode}", output)


# ------------------------------------------------------------------------------ 5. checkov

@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def checkov_executable() -> Path:
    """build/checkov-venv/bin/checkov, installed on first use (checkov's pins conflict with ours)."""
    executable = CHECKOV_VENV / "bin" / "checkov"
    stamp = CHECKOV_VENV / ".installed"
    with _locked(BUILD_DIR / "checkov-venv.lock"):
        if executable.exists() and stamp.exists() and stamp.read_text(encoding="utf-8").strip() == CHECKOV_REQUIREMENT:
            return executable
        print(f"checkov   installing {CHECKOV_REQUIREMENT} into {_relative(CHECKOV_VENV)} (first run only, "
              "about a minute)", flush=True)
        if CHECKOV_VENV.exists():
            shutil.rmtree(CHECKOV_VENV)
        for command in ([sys.executable, "-m", "venv", str(CHECKOV_VENV)],
                        [str(CHECKOV_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                         "--disable-pip-version-check", CHECKOV_REQUIREMENT]):
            result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
            if result.returncode != 0:
                raise PackageError(f"could not install checkov: {' '.join(command)}\n{result.stdout}{result.stderr}")
        stamp.write_text(CHECKOV_REQUIREMENT + "\n", encoding="utf-8")
    return executable


def check_checkov(report: Report, templates: list[Path]) -> None:
    command = [str(checkov_executable()), "--framework", "cloudformation", "--output", "json", "--compact",
               "--skip-download"]
    for template in templates:
        command += ["--file", _relative(template)]
    # No call to Prisma Cloud (mappings, guidelines) nor to the package index (update check).
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    result = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    try:
        parsed = json.loads(result.stdout)
    except ValueError:
        report.add("checkov", False, f"no report (exit {result.returncode})",
                   (result.stdout + result.stderr).strip().splitlines()[-20:])
        return
    reports = parsed if isinstance(parsed, list) else [parsed]
    passed = failed = 0
    findings: list[str] = []
    skipped: list[dict[str, Any]] = []
    for part in reports:
        summary = part.get("summary") or {}
        passed += summary.get("passed", 0)
        failed += summary.get("failed", 0)
        results = part.get("results") or {}
        for check in results.get("failed_checks") or []:
            findings.append(f"{check['check_id']} {check['resource']} ({check['file_path'].lstrip('/')}): "
                            f"{check['check_name']}")
        skipped += results.get("skipped_checks") or []
    unjustified = [f"{c['check_id']} {c['resource']}: suppressed without a reason (add a comment to its skip entry)"
                   for c in skipped if not ((c.get("check_result") or {}).get("suppress_comment") or "").strip()]
    ok = failed == 0 and not findings and not unjustified
    report.add("checkov", ok, f"{passed} passed, {failed} failed, {len(skipped)} suppressed with a reason in the "
               f"template" + ("" if ok else "; fix each finding or suppress it with its reason"),
               findings + unjustified)


# ------------------------------------------------------------------------------ main

def run(stage: str, check_only: bool, log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS) -> Report:
    report = Report()
    if not check_only:
        run_chalice_package(stage, log_retention_days)
        pruned = prune_runtime_provided(PACKAGE_DIR / ZIP_NAME)
        if pruned:
            print(f"{'pruned':<9} {', '.join(pruned)}: provided by the Lambda runtime", flush=True)
    sam_path = PACKAGE_DIR / SAM_TEMPLATE_NAME
    if not sam_path.exists() or not (PACKAGE_DIR / ZIP_NAME).exists():
        raise PackageError(f"no package in {_relative(PACKAGE_DIR)}: run python -m infra.package --stage {stage}")
    sam = json.loads(sam_path.read_text(encoding="utf-8"))
    check_events(report, sam, stage)
    check_roles(report, sam, stage)
    check_artefact(report, PACKAGE_DIR / ZIP_NAME)
    templates = [INFRA_TEMPLATE, sam_path]
    check_cfn_lint(report, templates)
    check_checkov(report, templates)
    print(f"{'result':<9} {'OK' if report.ok else 'FAILED'}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--check-only", action="store_true",
                        help="check build/package as it is, without packaging again")
    parser.add_argument("--log-retention-days", type=int, default=DEFAULT_LOG_RETENTION_DAYS,
                        choices=LOG_RETENTION_DAYS, metavar="DAYS",
                        help=f"the functions' log retention (default {DEFAULT_LOG_RETENTION_DAYS})")
    args = parser.parse_args(argv)
    try:
        report = run(args.stage, args.check_only, args.log_retention_days)
    except (PackageError, subprocess.TimeoutExpired) as error:
        print(f"{'result':<9} FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
