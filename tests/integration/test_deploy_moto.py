"""`python -m infra.deploy` end to end against a moto server: deploy, re-deploy (changes nothing),
destroy (keeps the data), destroy --delete-data.

The deploy runs for real, `chalice deploy` included, in a temporary copy of the project, so the
repository's .chalice/config.json is never touched and no .chalice/deployed/ appears in it. A
moto server is started in this process; the commands run as subprocesses pointed at it with
--endpoint-url and fake credentials.

Workarounds, each for something moto or this test setup cannot do (checked with moto 5.2.5 and
Chalice 1.34.0):

- No HTTPS API. moto cannot import the REST API Chalice generates: its ImportRestApi reads
  info.description, which Chalice's Swagger has not, and answers 500 (KeyError). The test deploys
  with `--no-api`, which sets SELLEROPS_DEPLOY_API=false for `chalice deploy`. Until app.py honours
  that variable itself, `_stopgap_no_api` appends the equivalent guard to the *copy's* app.py.
- No third-party packages. The copy's requirements.txt is removed, so Chalice packages app.py and
  chalicelib only and never calls `pip download` (no network, a zip of kilobytes instead of ~33 MB).
  The Lambda code never runs here (moto would need Docker to invoke it), so nothing is lost; the
  package itself is `make package`'s business. SELLEROPS_DEPLOY_TEST_FULL_PACKAGE=1 keeps the real
  requirements (then deploy needs the package index and takes ~10 s more).
- The KMS key. moto's CloudFormation stores the key policy as a mapping, after which DescribeKey
  and ScheduleKeyDeletion on that key answer 500; `_repair_moto_key_policy` stores it as JSON
  again (what infra.local.stack.provision does for the local stack).
- No waits are needed: moto creates Lambda functions Active at once, accepts the IAM role straight
  away (Chalice retries CreateFunction only on errors) and runs CloudFormation synchronously, so
  neither Chalice nor infra.deploy polls for long.
- Bucket versioning: moto's CloudFormation ignores VersioningConfiguration; the test switches it
  on before writing two versions of an invoice, so that `--delete-data` has versions to empty.
- ListEventSourceMappings(FunctionName=...) in moto matches the name exactly as given at creation
  (Chalice gives the ARN), so `_mappings` filters all mappings by function ARN instead.
- The SP-API secret does not exist: moto's CloudFormation skips AWS::SecretsManager::Secret, so
  `destroy --delete-data` reports it "already gone".

moto's state is global to this process: the stage name is unique to this test, and nothing here
uses `moto.mock_aws` (it would reset every server's state).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from infra.local.stack import start_moto, stop_moto

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"


# ------------------------------------------------------------------------------ project copy


def _copy_project(destination: Path) -> Path:
    """What `chalice deploy` and infra.deploy read: app.py, chalicelib, requirements.txt, the
    Chalice config and policy files, and infra's template, deploy.py and policy.py (infra.policy
    writes the stage's policy file into the copy)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp")
    project = destination / "project"
    project.mkdir()
    shutil.copy2(REPO / "app.py", project / "app.py")
    shutil.copy2(REPO / "requirements.txt", project / "requirements.txt")
    shutil.copytree(REPO / "chalicelib", project / "chalicelib", ignore=ignore)
    (project / ".chalice").mkdir()
    for path in (REPO / ".chalice").glob("*.json"):  # config.json and policy-*.json
        shutil.copy2(path, project / ".chalice" / path.name)
    (project / "infra").mkdir()
    for name in ("__init__.py", "template.yaml", "deploy.py", "policy.py", "cfn_yaml.py", "stage.py"):
        if (REPO / "infra" / name).exists():
            shutil.copy2(REPO / "infra" / name, project / "infra" / name)
    return project


def _stopgap_no_api(project: Path) -> None:
    """Until app.py reads SELLEROPS_DEPLOY_API itself (the change proposed with infra.deploy's
    --no-api), give the copy the same behaviour: no routes, hence no API Gateway and no authorizer."""
    app_py = project / "app.py"
    source = app_py.read_text(encoding="utf-8")
    if "SELLEROPS_DEPLOY_API" in source or "deploy_api" in source:
        return
    app_py.write_text(
        source
        + "\n\n# Added by tests/integration/test_deploy_moto.py to its copy of the project only.\n"
        + "import os as _os\n"
        + "if _os.environ.get('SELLEROPS_DEPLOY_API', 'true').lower() == 'false':\n"
        + "    app.routes.clear()\n",
        encoding="utf-8",
    )


def _hermetic_requirements(project: Path) -> None:
    if os.environ.get("SELLEROPS_DEPLOY_TEST_FULL_PACKAGE") != "1":
        (project / "requirements.txt").unlink()


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def moto_endpoint():
    endpoint = start_moto(0)
    yield endpoint
    stop_moto(endpoint)


@pytest.fixture()
def project(tmp_path):
    project = _copy_project(tmp_path)
    _stopgap_no_api(project)
    _hermetic_requirements(project)
    return project


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SELLEROPS_", "PYTHONPATH"))
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # A profile or a role from the developer's own AWS config must not leak in.
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class Runner:
    def __init__(self, project: Path, endpoint: str, stage: str, env: dict[str, str]) -> None:
        self.project, self.endpoint, self.stage, self.env = project, endpoint, stage, env
        self.transcript: list[str] = []

    def __call__(self, command: str, *extra: str) -> str:
        argv = [command, "--stage", self.stage, "--region", REGION, "--endpoint-url", self.endpoint, *extra]
        result = subprocess.run(
            [sys.executable, "-m", "infra.deploy", *argv],
            cwd=self.project,  # the copy's own infra.deploy and infra.policy
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = result.stdout + result.stderr
        self.transcript.append(f"$ python -m infra.deploy {' '.join(argv)}\n{output}")
        assert result.returncode == 0, output
        return output


# ------------------------------------------------------------------------------ helpers


def _client(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def _repair_moto_key_policy(endpoint: str, key_arn: str) -> None:
    kms = _client("kms", endpoint)
    policy = kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]
    if not isinstance(policy, str):
        kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))


def _function_names(stage: str) -> dict[str, str]:
    """Every function `deploy --no-api` deploys: all but the API handler and the authorizer."""
    from infra import policy

    return {name: f"sellerops-{stage}-{name}" for name in policy.FUNCTIONS
            if name not in ("api_handler", "bearer_token")}


def _mappings(endpoint: str, function_name: str) -> list[dict]:
    # Filtered here: moto's ListEventSourceMappings(FunctionName=) matches the name exactly as the
    # mapping was created with, and Chalice creates mappings with the function's ARN.
    mappings = _client("lambda", endpoint).list_event_source_mappings()["EventSourceMappings"]
    return [m for m in mappings if m["FunctionArn"].endswith(f":function:{function_name}")]


def _stage_env(outputs: dict[str, str], stage: str) -> dict[str, str]:
    from infra.deploy import stage_environment

    return stage_environment(outputs, stage)


def _table_names(endpoint: str, stage: str) -> list[str]:
    names = _client("dynamodb", endpoint).list_tables()["TableNames"]
    return sorted(name for name in names if name.startswith(f"sellerops-{stage}-"))


# ------------------------------------------------------------------------------ the test


def test_deploy_redeploy_and_destroy_against_moto(moto_endpoint, project, tmp_path):
    stage = f"dt{uuid.uuid4().hex[:10]}"
    run = Runner(project, moto_endpoint, stage, _environment(tmp_path))
    original_config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    try:
        _deploy_and_check(run, moto_endpoint, stage, project, original_config)
        _redeploy_changes_nothing(run, moto_endpoint, stage, project)
        _redeploy_with_settings(run, moto_endpoint, stage)
        _destroy_keeps_data(run, moto_endpoint, stage, project)
        _destroy_deletes_data(run, moto_endpoint, stage)
    finally:
        print("\n".join(run.transcript))  # shown by pytest when the test fails
    # The repository itself was never touched.
    assert f'"{stage}"' not in (REPO / ".chalice" / "config.json").read_text(encoding="utf-8")
    assert not (REPO / ".chalice" / "deployed" / f"{stage}.json").exists()
    assert not list((REPO / ".chalice").glob(f"policy-{stage}*.json"))


def _deploy_and_check(run: Runner, endpoint: str, stage: str, project: Path, original_config: dict) -> None:
    out = run("deploy", "--no-api")
    assert f"infra: creating stack sellerops-{stage}" in out
    assert f"config: wrote stage {stage}" in out

    # The token is printed once; only its SHA-256 is stored, as a SecureString.
    token = re.search(r"SELLEROPS_API_TOKEN=(\S+)", out).group(1)
    parameter = _client("ssm", endpoint).get_parameter(
        Name=f"/sellerops/{stage}/api-token-hash", WithDecryption=True
    )["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert parameter["Value"] == hashlib.sha256(token.encode()).hexdigest()

    stack = _client("cloudformation", endpoint).describe_stacks(StackName=f"sellerops-{stage}")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Stage": stage, "ListingsEventBusName": "default", "AlertEmail": ""}
    assert json.loads(run("outputs")) == outputs

    # The Chalice stage got the outputs, the timeouts and the policy file; the rest is as it was.
    from chalicelib import resources

    config = json.loads((project / ".chalice" / "config.json").read_text(encoding="utf-8"))
    stage_config = config["stages"][stage]
    assert stage_config["environment_variables"] == _stage_env(outputs, stage)
    from infra import policy as iam_policy

    queues = {q.handler: q for q in resources.QUEUES}
    assert stage_config["lambda_functions"] == {
        f: {"iam_policy_file": f"policy-{stage}-{f}.json",
            **({"lambda_timeout": queues[f].timeout_seconds, "lambda_memory_size": queues[f].memory_mb}
               if f in queues else {})} for f in iam_policy.FUNCTIONS}
    assert stage_config["autogen_policy"] is False
    assert "iam_policy_file" not in stage_config
    assert {k: v for k, v in config.items() if k != "stages"} == {
        k: v for k, v in original_config.items() if k != "stages"
    }
    for other in original_config["stages"]:
        assert config["stages"][other] == original_config["stages"][other]
    account = _client("sts", endpoint).get_caller_identity()["Account"]

    lam = _client("lambda", endpoint)
    iam = _client("iam", endpoint)
    deployed = json.loads((project / ".chalice" / "deployed" / f"{stage}.json").read_text(encoding="utf-8"))
    uuids = {r["queue"]: r["event_uuid"] for r in deployed["resources"] if r["resource_type"] == "sqs_event"}
    functions = _function_names(stage)
    for name, function_name in functions.items():
        configuration = lam.get_function_configuration(FunctionName=function_name)
        variables = configuration["Environment"]["Variables"]
        assert _stage_env(outputs, stage).items() <= variables.items(), name
        assert variables["POWERTOOLS_SERVICE_NAME"] == "sellerops"  # the top-level environment too
        declared = next((q for q in resources.QUEUES if q.handler == name), None)
        assert configuration["Timeout"] == (declared.timeout_seconds if declared else 60), name
        assert configuration["MemorySize"] == (declared.memory_mb if declared else 512), name
        # Its own role, whose only policy is the function's policy file, narrowed to the stack's
        # region and account.
        role_name = configuration["Role"].rsplit("/", 1)[-1]
        assert role_name == f"sellerops-{stage}-{name}", "one role per function"
        policy_names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        assert len(policy_names) == 1
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_names[0])["PolicyDocument"]
        written = json.loads((project / ".chalice" / f"policy-{stage}-{name}.json").read_text(encoding="utf-8"))
        assert (json.loads(document) if isinstance(document, str) else document) == written
        assert written == iam_policy.policy_document(stage, name, REGION, account)
    # --no-api: neither the API handler nor the authorizer.
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert f"sellerops-{stage}" not in names
    assert f"sellerops-{stage}-bearer_token" not in names

    for queue in resources.QUEUES:
        (mapping,) = _mappings(endpoint, functions[queue.handler])
        assert mapping["EventSourceArn"] == outputs[f"{queue.stem}QueueArn"]
        assert mapping["BatchSize"] == queue.batch_size
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["UUID"] == uuids[f"sellerops-{stage}-{queue.suffix}"]
        assert f"sqs: sellerops-{stage}-{queue.suffix} -> set FunctionResponseTypes=['ReportBatchItemFailures']" in out

    events = _client("events", endpoint)
    rule = events.describe_rule(Name=f"sellerops-{stage}-poll_orders-event")
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert [t["Arn"] for t in targets] == [
        lam.get_function_configuration(FunctionName=functions["poll_orders"])["FunctionArn"]
    ]

    # Every function's log group exists, kept 30 days (Lambda would keep its lines for ever).
    assert _retention(endpoint, stage) == {f"/aws/lambda/{name}": 30 for name in functions.values()}
    assert f"logs: {len(functions)} log groups keep 30 days ({len(functions)} set now)" in out

    _repair_moto_key_policy(endpoint, outputs["DataKeyArn"])


def _retention(endpoint: str, stage: str) -> dict[str, int | None]:
    groups = _client("logs", endpoint).describe_log_groups(logGroupNamePrefix=f"/aws/lambda/sellerops-{stage}")
    return {g["logGroupName"]: g.get("retentionInDays") for g in groups["logGroups"]}


def _redeploy_with_settings(run: Runner, endpoint: str, stage: str) -> None:
    out = run("deploy", "--no-api", "--log-retention-days", "90", "--alert-email", "ops@example.com")
    assert set(_retention(endpoint, stage).values()) == {90}
    stack = _client("cloudformation", endpoint).describe_stacks(StackName=f"sellerops-{stage}")["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack["Parameters"]}
    assert parameters["AlertEmail"] == "ops@example.com", out


def _redeploy_changes_nothing(run: Runner, endpoint: str, stage: str, project: Path) -> None:
    config_path = project / ".chalice" / "config.json"
    policy_paths = sorted((project / ".chalice").glob(f"policy-{stage}-*.json"))
    config_before, policy_before = config_path.read_bytes(), [p.read_bytes() for p in policy_paths]
    hash_before = _client("ssm", endpoint).get_parameter(
        Name=f"/sellerops/{stage}/api-token-hash", WithDecryption=True
    )["Parameter"]["Value"]
    lam = _client("lambda", endpoint)
    functions = _function_names(stage)
    from chalicelib import resources

    mappings_before = {q.handler: _mappings(endpoint, functions[q.handler]) for q in resources.QUEUES}
    code_before = {n: lam.get_function_configuration(FunctionName=f)["CodeSha256"] for n, f in functions.items()}

    out = run("deploy", "--no-api")

    assert "infra: no changes" in out
    assert f"config: stage {stage} in .chalice/config.json is up to date" in out
    assert "token: the API token hash exists" in out
    assert "SELLEROPS_API_TOKEN=" not in out
    assert f"logs: {len(functions)} log groups keep 30 days\n" in out  # none set again
    assert config_path.read_bytes() == config_before
    assert [p.read_bytes() for p in policy_paths] == policy_before
    assert _client("ssm", endpoint).get_parameter(
        Name=f"/sellerops/{stage}/api-token-hash", WithDecryption=True
    )["Parameter"]["Value"] == hash_before
    # The empty change set was deleted, not left behind.
    assert _client("cloudformation", endpoint).list_change_sets(StackName=f"sellerops-{stage}")["Summaries"] == []
    for queue in resources.QUEUES:
        assert f"sqs: sellerops-{stage}-{queue.suffix} -> ReportBatchItemFailures already on" in out
        (after,) = _mappings(endpoint, functions[queue.handler])
        (before,) = mappings_before[queue.handler]
        # Same mapping; Chalice's own update (BatchSize, batching window) keeps the response types.
        assert after["UUID"] == before["UUID"]
        assert after["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert after["BatchSize"] == queue.batch_size
    # Chalice uploads the code again, but it is the same code.
    assert {n: lam.get_function_configuration(FunctionName=f)["CodeSha256"]
            for n, f in functions.items()} == code_before


def _destroy_keeps_data(run: Runner, endpoint: str, stage: str, project: Path) -> None:
    outputs = json.loads(run("outputs"))
    s3 = _client("s3", endpoint)
    bucket = outputs["InvoiceBucketName"]
    # moto's CloudFormation ignores the bucket's VersioningConfiguration: switch it on here.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="invoices/INV-1.pdf", Body=b"%PDF-1 first")
    s3.put_object(Bucket=bucket, Key="invoices/INV-1.pdf", Body=b"%PDF-1 second")  # two versions

    out = run("destroy")

    assert f"infra: stack sellerops-{stage} deleted" in out
    assert "kept (DeletionPolicy: Retain" in out
    assert f"python -m infra.deploy destroy --stage {stage} --delete-data" in out
    names = {f["FunctionName"] for f in _client("lambda", endpoint).list_functions()["Functions"]}
    assert not names & set(_function_names(stage).values())
    assert all(not _mappings(endpoint, f) for f in _function_names(stage).values())
    rules = _client("events", endpoint).list_rules(NamePrefix=f"sellerops-{stage}-")["Rules"]
    assert [r["Name"] for r in rules] == []  # the schedule (Chalice) and the listings rule (stack)
    with pytest.raises(Exception, match="does not exist"):
        _client("cloudformation", endpoint).describe_stacks(StackName=f"sellerops-{stage}")
    queues = _client("sqs", endpoint).list_queues(QueueNamePrefix=f"sellerops-{stage}-").get("QueueUrls", [])
    assert queues == []
    # Retained: the tables, the bucket with its invoices, the key, the token hash.
    tables = _table_names(endpoint, stage)
    assert tables == sorted(f"sellerops-{stage}-{t}" for t in ("orders", "buyer-data", "state", "shipments",
                                                                "fulfillment-orders", "invoices", "stock",
                                                                "settlements"))
    for table in tables:
        assert table in out
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2
    assert bucket in out
    key = _client("kms", endpoint).describe_key(KeyId=outputs["DataKeyArn"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled"
    deployed = json.loads((project / ".chalice" / "deployed" / f"{stage}.json").read_text(encoding="utf-8"))
    assert deployed["resources"] == []


def _destroy_deletes_data(run: Runner, endpoint: str, stage: str) -> None:
    key_arn = None
    for line in run.transcript[-1].splitlines():  # the key, as the previous destroy reported it
        if "AWS::KMS::Key" in line:
            key_arn = line.split()[1]
    out = run("destroy", "--delete-data", "--yes")

    assert "destroyed stage" in out and "data included" in out
    assert _table_names(endpoint, stage) == []
    buckets = [b["Name"] for b in _client("s3", endpoint).list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith(f"sellerops-{stage}-")]
    assert _client("kms", endpoint).describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert "SecretsManager::Secret" in out  # moto skipped the secret: reported as already gone
    ssm = _client("ssm", endpoint)
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"/sellerops/{stage}/api-token-hash")


def test_an_upgrade_that_replaces_two_indexes_by_one_goes_one_index_per_update(moto_endpoint, monkeypatch):
    """The release that gave the orders table its one list index, deployed over the one before
    it (two keys-only list indexes): each update CloudFormation gets adds or drops one index,
    the new one first, the old ones after the app. (moto's CloudFormation takes the templates
    but does not rebuild a table's indexes, so the templates it was given are what is checked.)"""
    from infra import deploy
    from infra.cfn_yaml import parse_template

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    stage = f"up{uuid.uuid4().hex[:8]}"
    aws = deploy.Aws(REGION, moto_endpoint)
    before = _earlier_orders_indexes(parse_template((REPO / "infra" / "template.yaml").read_text(encoding="utf-8")))
    body = json.dumps(before)
    deploy.ensure_stack(aws, stage, body, before)
    given: list[list[str]] = []
    update = deploy.update_stack

    def recording(aws_, stack, stage_, body_, template, given_):
        properties = template["Resources"]["OrdersTable"]["Properties"]
        given.append([i["IndexName"] for i in properties["GlobalSecondaryIndexes"]])
        keyed = {key["AttributeName"] for i in properties["GlobalSecondaryIndexes"] for key in i["KeySchema"]}
        assert keyed <= {d["AttributeName"] for d in properties["AttributeDefinitions"]}
        return update(aws_, stack, stage_, body_, template, given_)

    monkeypatch.setattr(deploy, "update_stack", recording)
    target = parse_template((REPO / "infra" / "template.yaml").read_text(encoding="utf-8"))
    _, later = deploy.ensure_stack(aws, stage, (REPO / "infra" / "template.yaml").read_text(encoding="utf-8"),
                                   target)
    assert given == [["by_seller_updated_keys", "by_seller_status_keys", "by_ship_by", "by_seller_listed"]]
    deploy.finish_index_steps(aws, stage, later, None)  # after the app
    assert given[1:] == [["by_seller_status_keys", "by_ship_by", "by_seller_listed"],
                         ["by_seller_listed", "by_ship_by"]]
    deployed = _client("cloudformation", moto_endpoint).get_template(StackName=f"sellerops-{stage}")["TemplateBody"]
    assert parse_template(deployed) == target if isinstance(deployed, str) else deployed == target


def _earlier_orders_indexes(template: dict) -> dict:
    """The template as it was before the orders had one list index: two, keys and filters only."""
    earlier = json.loads(json.dumps(template))
    properties = earlier["Resources"]["OrdersTable"]["Properties"]
    listed = {"Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["marketplace_id", "change_key"]}}
    properties["GlobalSecondaryIndexes"] = [
        {"IndexName": "by_seller_updated_keys", "KeySchema": [{"AttributeName": "seller_id", "KeyType": "HASH"},
                                                              {"AttributeName": "updated_key", "KeyType": "RANGE"}],
         **listed},
        {"IndexName": "by_seller_status_keys", "KeySchema": [{"AttributeName": "seller_status", "KeyType": "HASH"},
                                                             {"AttributeName": "updated_key", "KeyType": "RANGE"}],
         **listed},
        *[i for i in properties["GlobalSecondaryIndexes"] if i["IndexName"] == "by_ship_by"]]
    properties["AttributeDefinitions"].append({"AttributeName": "seller_status", "AttributeType": "S"})
    return earlier
