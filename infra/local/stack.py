"""The embedded AWS for the local stack and the tests: a moto server provisioned from
infra/template.yaml through moto's CloudFormation, so local resources have the same names, keys,
indexes and queue settings as the deployed ones.

moto's CloudFormation does not honour the whole template (checked against moto 5.2):

- It skips AWS::SQS::QueuePolicy, AWS::S3::BucketPolicy, AWS::SNS::TopicPolicy,
  AWS::SecretsManager::Secret, AWS::CloudWatch::Alarm and AWS::SNS::Subscription. The secret and
  the alarms are created here through their APIs (moto keeps the alarms, but has no SQS metrics
  to set them off). The resource policies are left out on purpose: moto does not enforce
  resource policies, and the "deny unless TLS" statements would deny every request to a local
  http:// endpoint if it ever did. The e-mail subscription exists only with an AlertEmail.
  Skipped logical ids are listed in `LocalStack.skipped`.
- It ignores some properties of resources it does create; `provision` applies them through the
  API, reading their values from the template, and lists them in `LocalStack.patched`:
  DynamoDB TimeToLiveSpecification and PointInTimeRecoverySpecification; S3
  VersioningConfiguration, PublicAccessBlockConfiguration, OwnershipControls and the encryption
  rule's BucketKeyEnabled; and the KMS KeyPolicy, which moto stores as a mapping instead of a JSON
  string (DescribeKey on the key then fails with an internal error) and is rewritten as JSON.
- A few properties cannot be applied to moto at all, listed in `LocalStack.not_applied`: DynamoDB
  SSESpecification (moto's CloudFormation reads `Enabled` where the template has `SSEEnabled`, and
  its UpdateTable ignores SSESpecification) and SQS RedriveAllowPolicy (moto neither reports nor
  enforces it). Nothing local depends on them.

What moto does honour: table keys, GSIs and billing mode; queue VisibilityTimeout,
MessageRetentionPeriod, SqsManagedSseEnabled and RedrivePolicy (a message received maxReceiveCount
times moves to the dead-letter queue on the next receive); bucket SSE-KMS with the data key; key
rotation; the alias; the EventBridge rule and its SQS target (a matching PutEvents lands in the
intake queue).

The server runs in this process and shares moto's global state: `moto.mock_aws` started in the
same process resets it, wiping the provisioned stack.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from chalicelib import resources
from infra.cfn_yaml import parse_template

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"

FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"

# Properties moto accepts but cannot apply, by resource type (see the module docstring).
_MOTO_CANNOT_APPLY = {
    "AWS::DynamoDB::Table": ("SSESpecification",),
    "AWS::SQS::Queue": ("RedriveAllowPolicy",),
}

_servers: dict[str, Any] = {}


_dynamodb_lock = threading.Lock()


def _serialize_dynamodb() -> None:
    """DynamoDB applies each request atomically (a conditional write, a transaction of several
    items); moto's threaded server runs requests side by side over shared dictionaries, so two
    conditional writes can both pass and a transaction can half-apply. One lock around each
    DynamoDB request gives moto the isolation DynamoDB has (the invoice numbering relies on it)."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "_sellerops_serialized", False):
        return
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    call_action._sellerops_serialized = True  # type: ignore[attr-defined]
    setattr(DynamoHandler, "call_action", call_action)  # noqa: B010


def _transactions_by_item() -> None:
    """moto's TransactWriteItems deep-copies every table it touches to roll back on failure:
    O(table size) per transaction, so a table of invoices numbered one transaction each grows
    slower and slower (and heavier). DynamoDB's cost does not grow with the table. Here the
    items a transaction touches are kept instead and put back if it fails (with one request at
    a time, `_serialize_dynamodb`, nothing else can change them meanwhile): the same outcome."""
    import copy

    from moto.dynamodb import models as dynamodb

    backend = dynamodb.DynamoDBBackend
    if getattr(backend.transact_write_items, "_sellerops_by_item", False):
        return
    original = backend.transact_write_items

    class _TablesNotCopied:
        """Stands for the `copy` module inside moto's DynamoDB models: tables are not copied."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, dynamodb.Table) else copy.deepcopy(value, memo)

    dynamodb.copy = _TablesNotCopied()  # type: ignore[assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        kept = []
        for entry in transact_items[:100]:
            _, op = next(iter(entry.items()))
            if op.get("TableName") not in self.tables:
                continue
            table = self.get_table(op["TableName"])
            if "Key" in op:
                key = op["Key"]
            else:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            current = self.get_item(op["TableName"], key)
            kept.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(kept):
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    transact_write_items._sellerops_by_item = True  # type: ignore[attr-defined]
    setattr(backend, "transact_write_items", transact_write_items)  # noqa: B010


def start_moto(port: int = 0) -> str:
    """Start a moto server on 127.0.0.1 in a daemon thread and return its endpoint URL.

    Port 0 lets the operating system pick a free port while binding, which cannot race with another
    process the way probing for a free port first can."""
    from moto.server import ThreadedMotoServer

    # One access-log line per request drowns everything else in the local stack's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _serialize_dynamodb()
    _transactions_by_item()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{bound_port}"
    _servers[endpoint_url] = server
    return endpoint_url


def stop_moto(endpoint_url: str) -> None:
    """Stop a server started by `start_moto` (optional: the thread dies with the process)."""
    server = _servers.pop(endpoint_url, None)
    if server is not None:
        server.stop()


@dataclass
class LocalStack:
    endpoint_url: str
    region: str
    stage: str
    outputs: dict[str, str]
    skipped: list[str] = field(default_factory=list)
    patched: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)

    def client(self, service: str) -> Any:
        """A boto3 client for this stack (shared: boto3 clients are thread-safe)."""
        return _client(service, self.endpoint_url, self.region)

    def env(self) -> dict[str, str]:
        """The environment the Lambda handlers read, pointed at this stack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            **resources.stage_environment(self.outputs, self.stage),
        }


def provision(endpoint_url: str, stage: str = "local", region: str = "eu-west-1") -> LocalStack:
    """Create the stack `sellerops-<stage>` from the template on the moto server at endpoint_url,
    then apply through the API what moto's CloudFormation skipped or ignored."""
    template_body = TEMPLATE_PATH.read_text(encoding="utf-8")
    template = _load_template(template_body)
    stack = LocalStack(endpoint_url=endpoint_url, region=region, stage=stage, outputs={})
    cloudformation = stack.client("cloudformation")
    stack_name = f"sellerops-{stage}"

    # moto warns about each skipped resource whenever it reads the template (create, describe,
    # list): they are reported in `skipped` instead.
    _quiet_moto_skip_warnings()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=template_body,
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
        )
        description = _wait_for_create_complete(cloudformation, stack_name)
        summaries = cloudformation.list_stack_resources(StackName=stack_name)[
            "StackResourceSummaries"
        ]
    stack.outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    physical_ids = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in summaries
        if r.get("LogicalResourceId")  # moto lists skipped resources with an empty logical id
    }
    resources: dict[str, dict[str, Any]] = template["Resources"]
    stack.skipped = [logical_id for logical_id in resources if logical_id not in physical_ids]

    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        for prop in _MOTO_CANNOT_APPLY.get(resource["Type"], ()):
            if prop in props:
                stack.not_applied.append(f"{logical_id}.{prop}")

    for logical_id, resource in resources.items():
        if logical_id in physical_ids:
            applied = _apply_ignored_properties(
                stack, resource["Type"], physical_ids[logical_id], resource.get("Properties", {})
            )
            stack.patched.extend(f"{logical_id}.{prop}" for prop in applied)

    # Of the skipped resources, the secret and the alarms are made here (the policies: module
    # docstring; the e-mail subscription is off without an AlertEmail).
    context = _resolution_context(stack, template, description, physical_ids)
    for logical_id in stack.skipped:
        if resources[logical_id]["Type"] == "AWS::SecretsManager::Secret":
            _create_secret(stack, resources[logical_id].get("Properties", {}), context)
        elif resources[logical_id]["Type"] == "AWS::CloudWatch::Alarm":
            _create_alarm(stack, resources[logical_id].get("Properties", {}), context)
    return stack


def write_secret(stack: LocalStack, lwa_app_id: str, lwa_client_secret: str, sellers: dict) -> None:
    """Store the SP-API credentials, replacing the placeholder (the same shape as in AWS)."""
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.outputs["SpApiSecretName"],
        SecretString=json.dumps(
            {"lwa_app_id": lwa_app_id, "lwa_client_secret": lwa_client_secret, "sellers": sellers}
        ),
    )


def write_api_token_hash(stack: LocalStack, token: str) -> None:
    """Store the sha256 hex digest of the API token as a SecureString under the data key."""
    stack.client("ssm").put_parameter(
        Name=stack.outputs["ApiTokenHashParameterName"],
        Value=hashlib.sha256(token.encode("utf-8")).hexdigest(),
        Type="SecureString",
        KeyId=stack.outputs["DataKeyArn"],
        Overwrite=True,
    )


def write_page_token_key(stack: LocalStack) -> None:
    """Store the key that seals the API's page tokens, as `make deploy` does."""
    from chalicelib.core.pages import new_key

    stack.client("ssm").put_parameter(
        Name=stack.outputs["PageTokenKeyParameterName"], Value=new_key(), Type="SecureString",
        KeyId=stack.outputs["DataKeyArn"], Overwrite=True)


# ------------------------------------------------------------------------------------ internals


@functools.lru_cache(maxsize=64)
def _client(service: str, endpoint_url: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=FAKE_ACCESS_KEY_ID,
        aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
    )




class _DropMotoSkipWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No Moto CloudFormation support for")


def _quiet_moto_skip_warnings() -> None:
    moto_logger = logging.getLogger("moto")
    if not any(isinstance(f, _DropMotoSkipWarnings) for f in moto_logger.filters):
        moto_logger.addFilter(_DropMotoSkipWarnings())


def _load_template(body: str) -> dict[str, Any]:
    return parse_template(body)


def _wait_for_create_complete(cloudformation: Any, stack_name: str, timeout: float = 30.0) -> dict:
    # moto creates the stack synchronously; the loop is for a moto that one day does not.
    deadline = time.monotonic() + timeout
    while True:
        description = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = description["StackStatus"]
        if status == "CREATE_COMPLETE":
            return description
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
            reasons = [
                f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
                for e in events
                if e.get("ResourceStatusReason")
            ]
            raise RuntimeError(f"stack {stack_name} ended in {status}: {reasons}")
        time.sleep(0.05)


def _resolution_context(
    stack: LocalStack, template: dict[str, Any], description: dict, physical_ids: dict[str, str]
) -> dict[str, Any]:
    # StackId: arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
    _, partition, _, _, account_id, _ = description["StackId"].split(":", 5)
    refs: dict[str, Any] = {
        name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
    }
    refs.update({p["ParameterKey"]: p["ParameterValue"] for p in description.get("Parameters", [])})
    refs.update(
        {
            "AWS::AccountId": account_id,
            "AWS::Partition": partition,
            "AWS::Region": stack.region,
            "AWS::StackName": description["StackName"],
        }
    )
    refs.update(physical_ids)
    attributes = {
        (logical_id, "Arn"): (
            f"arn:{partition}:kms:{stack.region}:{account_id}:key/{physical_ids[logical_id]}"
        )
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::KMS::Key" and logical_id in physical_ids
    }
    # A queue's physical id is its URL, which ends with its name.
    attributes.update({
        (logical_id, "QueueName"): physical_ids[logical_id].rsplit("/", 1)[-1]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue" and logical_id in physical_ids
    })
    return {"refs": refs, "attributes": attributes}


def _apply_ignored_properties(
    stack: LocalStack, resource_type: str, physical_id: str, props: dict[str, Any]
) -> list[str]:
    """Apply what moto's CloudFormation did not honour for this resource; return those names.

    Each property is read back first and applied only when moto left it out, so the list stays
    true if a later moto honours it. Only literal values are taken from the template; where a
    value holds an intrinsic (the bucket's KMS key), the value moto did apply is completed."""
    applied: list[str] = []
    if resource_type == "AWS::DynamoDB::Table":
        dynamodb = stack.client("dynamodb")
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            current = dynamodb.describe_time_to_live(TableName=physical_id)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") != "ENABLED":
                dynamodb.update_time_to_live(
                    TableName=physical_id,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": True,
                    },
                )
                applied.append("TimeToLiveSpecification")
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and pitr.get("PointInTimeRecoveryEnabled"):
            current = dynamodb.describe_continuous_backups(TableName=physical_id)[
                "ContinuousBackupsDescription"
            ]
            pitr_now = current.get("PointInTimeRecoveryDescription", {})
            if pitr_now.get("PointInTimeRecoveryStatus") != "ENABLED":
                dynamodb.update_continuous_backups(
                    TableName=physical_id,
                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
                )
                applied.append("PointInTimeRecoverySpecification")

    elif resource_type == "AWS::S3::Bucket":
        s3 = stack.client("s3")
        versioning = props.get("VersioningConfiguration")
        if versioning:
            if s3.get_bucket_versioning(Bucket=physical_id).get("Status") != versioning["Status"]:
                s3.put_bucket_versioning(
                    Bucket=physical_id, VersioningConfiguration={"Status": versioning["Status"]}
                )
                applied.append("VersioningConfiguration")
        public_access = props.get("PublicAccessBlockConfiguration")
        if public_access:
            try:
                current = s3.get_public_access_block(Bucket=physical_id)[
                    "PublicAccessBlockConfiguration"
                ]
            except s3.exceptions.ClientError:  # NoSuchPublicAccessBlockConfiguration
                current = {}
            if current != public_access:
                s3.put_public_access_block(
                    Bucket=physical_id, PublicAccessBlockConfiguration=dict(public_access)
                )
                applied.append("PublicAccessBlockConfiguration")
        ownership = props.get("OwnershipControls")
        if ownership:
            try:
                current = s3.get_bucket_ownership_controls(Bucket=physical_id)["OwnershipControls"]
            except s3.exceptions.ClientError:  # OwnershipControlsNotFoundError
                current = {}
            if current.get("Rules") != ownership["Rules"]:
                s3.put_bucket_ownership_controls(
                    Bucket=physical_id, OwnershipControls={"Rules": list(ownership["Rules"])}
                )
                applied.append("OwnershipControls")
        lock = props.get("ObjectLockConfiguration")
        if lock and props.get("ObjectLockEnabled"):
            try:
                s3.get_object_lock_configuration(Bucket=physical_id)
            except s3.exceptions.ClientError:
                s3.put_object_lock_configuration(Bucket=physical_id, ObjectLockConfiguration=lock)
                applied.append("ObjectLockConfiguration")
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        if any(rule.get("BucketKeyEnabled") for rule in rules):
            current = s3.get_bucket_encryption(Bucket=physical_id)[
                "ServerSideEncryptionConfiguration"
            ]
            if not all(rule.get("BucketKeyEnabled") for rule in current["Rules"]):
                for rule in current["Rules"]:
                    rule["BucketKeyEnabled"] = True
                s3.put_bucket_encryption(
                    Bucket=physical_id, ServerSideEncryptionConfiguration=current
                )
                applied.append("BucketEncryption.BucketKeyEnabled")

    elif resource_type == "AWS::KMS::Key":
        kms = stack.client("kms")
        policy = kms.get_key_policy(KeyId=physical_id, PolicyName="default")["Policy"]
        if not isinstance(policy, str):
            kms.put_key_policy(KeyId=physical_id, PolicyName="default", Policy=json.dumps(policy))
            applied.append("KeyPolicy")
    return applied


def _create_secret(stack: LocalStack, props: dict[str, Any], context: dict[str, Any]) -> None:
    stack.client("secretsmanager").create_secret(
        **{
            key: _resolve(props[key], context)
            for key in ("Name", "Description", "KmsKeyId", "SecretString")
            if key in props
        }
    )


def _create_alarm(stack: LocalStack, props: dict[str, Any], context: dict[str, Any]) -> None:
    # The template's properties are PutMetricAlarm's parameters, by the same names.
    stack.client("cloudwatch").put_metric_alarm(**_resolve(props, context))


def _resolve(value: Any, context: dict[str, Any]) -> Any:
    """Resolve the few intrinsics the skipped resources use: Ref and Fn::Sub over parameters,
    pseudo parameters and created resources, Fn::GetAtt <KMS key>.Arn and <queue>.QueueName,
    inside lists and mappings too."""
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        return [_resolve(item, context) for item in value]
    if isinstance(value, dict) and not any(key == "Ref" or key.startswith("Fn::") for key in value):
        return {key: _resolve(item, context) for key, item in value.items()}
    if isinstance(value, dict) and "Ref" in value:
        return context["refs"][value["Ref"]]
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is the escape for a literal ${Literal}
                return "${" + name[1:] + "}"
            reference = {"Fn::GetAtt": name.split(".", 1)} if "." in name else {"Ref": name}
            return str(_resolve(reference, context))

        return re.sub(r"\$\{([^}]+)\}", substitute, value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if (logical_id, attribute) in context["attributes"]:
            return context["attributes"][(logical_id, attribute)]
    raise ValueError(f"provision cannot resolve {value!r} for a resource moto skipped")
