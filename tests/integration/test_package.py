"""The Lambda package: `python -m infra.package` end to end, and its checks on bad artefacts.

The end-to-end test (marked `package`) runs `chalice package`, which downloads Lambda's wheels
from the package index, and on its first run installs checkov into build/checkov-venv: about
1.5 minutes from a fresh clone, 25 seconds after that. It is part of `make test`; deselect it
with `-m "not package"`.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import package

REPO = Path(__file__).resolve().parents[2]
T = package.PYTHON_TAG  # the functions' runtime: the Python running the tests (pyproject's requires-python)
ABI = T[2:]  # "313" in file names: _imaging.cpython-313-x86_64-linux-gnu.so
TOO_NEW_GLIBC = f"2_{package.LAMBDA_GLIBC[1] + 1}"


@pytest.mark.package
def test_package_builds_and_passes_every_check():
    result = subprocess.run([sys.executable, "-m", "infra.package", "--stage", "dev"], cwd=REPO,
                            capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()

    def line(name: str) -> str:
        found = [text for text in lines if text.startswith(f"{name:<9} ok: ")]
        assert found, f"no '{name} ok' line in:\n{output}"
        return found[0]

    assert ("ReportBatchItemFailures on Intake.IntakeSqsEventSource, Tasks.TasksSqsEventSource, "
            "Work.WorkSqsEventSource") in line("events")
    size = line("package")
    unzipped = float(size.split(": ")[2].split(" MB unzipped")[0])
    assert 0 < unzipped < 100, size
    assert f"manylinux or py3-none-any for x86_64/{T}" in line("wheels")
    assert f"pillow ({T}-{T}-manylinux" in line("wheels")
    runtimes = {r["Properties"]["Runtime"] for r in json.loads((REPO / "build" / "package" / "sam.json").read_text())
                ["Resources"].values() if r.get("Type") == "AWS::Serverless::Function"}
    assert runtimes == {package.RUNTIME}
    assert "no test or dev dependency" in line("contents")
    assert "infra/template.yaml, build/package/sam.json: no finding" in line("cfn-lint")
    assert ", 0 failed, " in line("checkov")
    assert any(text.startswith("pruned") and "botocore" in text for text in lines), output
    assert lines[-1] == "result    OK"

    sam = json.loads((REPO / "build" / "package" / "sam.json").read_text(encoding="utf-8"))
    for function, event in (("Intake", "IntakeSqsEventSource"), ("Tasks", "TasksSqsEventSource"),
                            ("Work", "WorkSqsEventSource")):
        properties = sam["Resources"][function]["Properties"]["Events"][event]["Properties"]
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Each queue's consumer has the timeout and memory chalicelib/resources.py declares.
    from chalicelib import resources

    for queue in resources.QUEUES:
        function = sam["Resources"][queue.handler.title()]["Properties"]
        assert (function["Timeout"], function["MemorySize"]) == (queue.timeout_seconds, queue.memory_mb), queue.handler
    # API Gateway caches the authorizer's answer 60 s, as the README promises (not its default 300 s).
    authorizers = [scheme["x-amazon-apigateway-authorizer"] for scheme in
                   sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"].values()]
    assert [a["authorizerResultTtlInSeconds"] for a in authorizers] == [60]
    # Each function's role has the name the key policy knows; each log group its retention.
    from infra import policy

    for function in policy.FUNCTIONS:
        chalice_name, logical_id = policy.function_names("dev", function)
        role = sam["Resources"][f"{''.join(part.title() for part in function.split('_'))}Role"]["Properties"]
        assert role["RoleName"] == f"sellerops-dev-{function}"
        group = sam["Resources"][f"{logical_id}LogGroup"]
        assert group["Properties"] == {"LogGroupName": f"/aws/lambda/{chalice_name}", "RetentionInDays": 30}
        logging = sam["Resources"][logical_id]["Properties"]["LoggingConfig"]
        assert logging == {"LogGroup": {"Ref": f"{logical_id}LogGroup"}}
    with zipfile.ZipFile(REPO / "build" / "package" / "deployment.zip") as archive:
        names = archive.namelist()
    assert "app.py" in names and "chalicelib/handlers.py" in names
    assert not [n for n in names if n.split("/")[0] in ("botocore", "boto3", "tests", "infra")]

    # --check-only checks the same package again, without packaging.
    again = subprocess.run([sys.executable, "-m", "infra.package", "--stage", "dev", "--check-only"], cwd=REPO,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "chalice package" not in again.stdout
    assert again.stdout.splitlines()[-1] == "result    OK"


# ------------------------------------------------------------------------------ the checks on bad artefacts

def _elf(glibc: str = "2.17") -> bytes:
    """The first bytes of a 64-bit little-endian x86-64 shared object, with a glibc version need."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5] = 2, 1
    header[18:20] = (62).to_bytes(2, "little")
    return bytes(header) + f"\x00GLIBC_{glibc}\x00".encode()


def _zip(path: Path, files: dict[str, bytes | str]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    path.write_bytes(buffer.getvalue())
    return path


def _wheel(name: str, version: str, tags: list[str], files: list[str]) -> dict[str, str]:
    info = f"{name}-{version}.dist-info"
    record = "\n".join(f"{f},," for f in [*files, f"{info}/WHEEL", f"{info}/RECORD"])
    return {f"{info}/WHEEL": "Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in tags),
            f"{info}/RECORD": record}


def _check(tmp_path, files) -> tuple[package.Report, str]:
    report = package.Report()
    package.check_artefact(report, _zip(tmp_path / "deployment.zip", files))
    return report, "\n".join(f"{name} {ok} {text}" for name, ok, text in report.lines)


def test_a_good_package_passes(tmp_path, capsys):
    so = f"PIL/_imaging.cpython-{ABI}-x86_64-linux-gnu.so"
    files = {"app.py": "", "chalice/app.py": "", "chalice/__init__.py": "", so: _elf("2.17"),
             **_wheel("pillow", "12.2.0", [f"{T}-{T}-manylinux_2_17_x86_64", f"{T}-{T}-manylinux2014_x86_64"],
                      [so]),
             **_wheel("httpx", "0.28.1", ["py3-none-any"], [])}
    report, _ = _check(tmp_path, files)
    assert report.ok, capsys.readouterr().out


def test_the_pillow_trap_fails_loudly(tmp_path, capsys):
    so = f"PIL/_imaging.cpython-{ABI}-x86_64-linux-gnu.so"
    newer = TOO_NEW_GLIBC.replace("_", ".")
    files = {"app.py": "", so: _elf(newer), **_wheel("pillow", "12.3.0", [f"{T}-{T}-linux_x86_64"], [so])}
    report, _ = _check(tmp_path, files)
    out = capsys.readouterr().out
    assert not report.ok
    assert "wheels    FAILED" in out
    assert f"{T}-{T}-linux_x86_64: compiled on the build machine" in out and "Pillow trap" in out
    assert f"{so}: needs glibc {newer}" in out


@pytest.mark.parametrize("tag, problem", [
    (f"{T}-{T}-linux_x86_64", "compiled on the build machine"),
    (f"{T}-{T}-manylinux_{TOO_NEW_GLIBC}_x86_64", f"needs glibc {TOO_NEW_GLIBC.replace('_', '.')}"),
    (f"{T}-{T}-manylinux_2_17_aarch64", "built for aarch64"),
    (f"{T}-{T}-musllinux_1_2_x86_64", "is not manylinux"),
    ("cp310-cp310-manylinux_2_17_x86_64", f"not CPython {T}"),
    (f"{T}-{T}-macosx_11_0_arm64", "is not manylinux"),
    ("py2-none-any", "not a pure Python 3 wheel"),
])
def test_tags_lambda_cannot_load(tag, problem):
    assert problem in (package.tag_problem(tag) or "")


@pytest.mark.parametrize("tag", ["py3-none-any", f"py{ABI}-none-any", f"{T}-{T}-manylinux2014_x86_64",
                                 f"{T}-{T}-manylinux_2_26_x86_64", "cp38-abi3-manylinux_2_17_x86_64",
                                 f"{T}-{T}-manylinux1_x86_64"])
def test_tags_lambda_loads(tag):
    assert package.tag_problem(tag) is None


def test_dev_dependencies_and_project_folders_fail(tmp_path, capsys):
    files = {"app.py": "", "pytest/__init__.py": "", "tests/test_x.py": "", "infra/policy.py": "",
             "chalice/cli/__init__.py": "",
             **_wheel("moto", "5.2.5", ["py3-none-any"], []), **_wheel("botocore", "1.44.5", ["py3-none-any"], [])}
    report, _ = _check(tmp_path, files)
    out = capsys.readouterr().out
    assert not report.ok
    for expected in ("moto-5.2.5.dist-info: moto is a test or development dependency",
                     "botocore-1.44.5.dist-info: botocore is provided by the Lambda runtime",
                     "pytest/: must not be deployed",
                     "tests/: must not be deployed", "infra/: must not be deployed",
                     "chalice/cli/__init__.py: Chalice's command line"):
        assert expected in out


def test_a_compiled_file_of_unknown_origin_fails(tmp_path, capsys):
    files = {"app.py": "", f"mystery/_fast.cpython-{ABI}-x86_64-linux-gnu.so": _elf()}
    report, _ = _check(tmp_path, files)
    assert not report.ok
    assert "belongs to no distribution's RECORD" in capsys.readouterr().out


def test_the_size_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(package, "MAX_UNZIPPED_MB", 0.001)
    report, _ = _check(tmp_path, {"app.py": "x" * 5000})
    assert not report.ok
    assert "package   FAILED" in capsys.readouterr().out


def test_runtime_provided_packages_are_pruned(tmp_path):
    path = _zip(tmp_path / "deployment.zip", {
        "app.py": "", "botocore/__init__.py": "x" * 100, "botocore-1.44.5.dist-info/RECORD": "",
        "boto3/__init__.py": "", "pynamodb/__init__.py": "", "jmespath/__init__.py": ""})
    pruned = package.prune_runtime_provided(path)
    assert [p.split(" ")[0] for p in pruned] == ["boto3", "botocore"]
    assert "botocore 1.44.5" in pruned[1]
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["app.py", "jmespath/__init__.py", "pynamodb/__init__.py"]


def test_an_sqs_event_without_partial_batch_responses_fails(capsys):
    sam = {"Resources": {
        "Intake": {"Type": "AWS::Serverless::Function", "Properties": {
            "Tags": {"aws-chalice": "version=1.34.0:stage=dev:app=sellerops"},
            "Events": {"IntakeSqsEventSource": {"Type": "SQS", "Properties": {
                "Queue": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:sellerops-dev-intake"},
                "BatchSize": 10}}}}},
        "Renamed": {"Metadata": {}},
    }}
    report = package.Report()
    package.check_events(report, sam, "dev")
    out = capsys.readouterr().out
    assert not report.ok
    assert "Intake.IntakeSqsEventSource: FunctionResponseTypes is None" in out
    assert "Renamed: no Type" in out


def test_the_merge_template_targets_every_sqs_event_and_every_function():
    merge = package.merge_template()["Resources"]
    for function, event in (("Intake", "IntakeSqsEventSource"), ("Tasks", "TasksSqsEventSource"),
                            ("Work", "WorkSqsEventSource")):
        assert merge[function]["Properties"]["Events"][event]["Properties"]["FunctionResponseTypes"] == [
            "ReportBatchItemFailures"]
    assert {"PollOrders", "APIHandler", "BearerToken", "RestAPI"} <= set(merge)
    # Each function's role is named as `chalice deploy` names it (the key policy names the roles),
    # and its log group keeps 30 days.
    assert merge["TasksRole"] == {"Properties": {"RoleName": "sellerops-dev-tasks"}}
    assert merge["ApiHandlerRole"] == {"Properties": {"RoleName": "sellerops-dev-api_handler"}}
    assert merge["APIHandlerLogGroup"]["Properties"] == {"LogGroupName": "/aws/lambda/sellerops-dev",
                                                         "RetentionInDays": 30}
    assert merge["Intake"]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": "IntakeLogGroup"}}
    prod = package.merge_template("prod", 90)["Resources"]
    assert prod["WorkLogGroup"]["Properties"] == {"LogGroupName": "/aws/lambda/sellerops-prod-work",
                                                  "RetentionInDays": 90}
    merge = {name: body for name, body in merge.items() if not name.endswith("Role")}
    assert all(merge[name]["Metadata"]["checkov"]["skip"] for name in merge)
    for name, resource in merge.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["comment"].strip(), f"{name}: {skip['id']} suppressed without a reason"
