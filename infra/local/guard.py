"""The local stack plays IAM: every AWS call a function makes is checked against that
function's own policy (infra/policy.py), as AWS would check it against the function's role.

moto does not enforce IAM, and the functions of the local stack share one process, so a call
outside a function's policy would pass here and fail in AWS. The guard wraps botocore's call
path (boto3's clients and PynamoDB's alike): when a function is running (chalicelib/core/
function.py, set by each entry point), the call's IAM action and resource must be granted by a
statement of that function's policy; otherwise it is refused, as AccessDenied, and counted.
Calls made outside any function (the worker polling the queues, the simulator, tests setting
things up) are not checked.

With tests/unit/test_iam_policy.py (every call site of the code, statically, is granted to the
functions that run it), this proves on every replay, demo and end-to-end test that each
function stays within its own role.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from typing import Any
from urllib.parse import urlsplit

# IAM authorizes these operations with another action.
_ALIASES = {"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
            "s3:HeadObject": "s3:GetObject",
            "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}
_SAMPLE_SECRET_SUFFIX = "-AbCdEf"  # Secrets Manager's six random characters in a secret's ARN


@dataclass
class Denials:
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, text: str) -> None:
        with self.lock:
            self.calls.append(text)

    def __len__(self) -> int:
        return len(self.calls)


DENIED = Denials()
_installed: list[Any] = []


@cache
def _grants(stage: str, function: str) -> list[tuple[str, str]]:
    from infra import policy

    document = policy.policy_document(stage, function)
    found = []
    for statement in document["Statement"]:
        condition = statement.get("Condition") or {}
        if "StringLike" in condition:  # kms:ViaService: only through a service, never a call of the code
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        found += [(a, r) for a in actions for r in resources]
    return found


def resources_of(service: str, operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    """The ARNs a call acts on, read from its parameters as IAM reads them."""
    arn = f"arn:aws:{service}:{region}:{account}:"
    if service == "dynamodb":
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems") or {})
        for item in params.get("TransactItems") or []:
            tables += [body["TableName"] for body in item.values() if "TableName" in body]
        index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
        return [f"{arn}table/{table}{index}" for table in tables]
    if service == "sqs" and "QueueUrl" in params:
        return [arn + urlsplit(params["QueueUrl"]).path.rsplit("/", 1)[-1]]
    if service == "ssm" and "Name" in params:
        return [f"{arn}parameter/{params['Name'].lstrip('/')}"]
    if service == "secretsmanager" and "SecretId" in params:
        secret = params["SecretId"]
        return [secret if secret.startswith("arn:") else f"{arn}secret:{secret}{_SAMPLE_SECRET_SUFFIX}"]
    if service == "sns" and "TopicArn" in params:
        return [params["TopicArn"]]
    if service == "kms":
        return [f"{arn}key/the-data-key"]  # by alias or by its ciphertext: the stage's data key
    if service == "s3" and "Bucket" in params:
        return [f"arn:aws:s3:::{params['Bucket']}" + (f"/{params['Key']}" if "Key" in params else "")]
    return [f"{arn}*"]


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def checks(service: str, operation: str, params: dict[str, Any], region: str,
           account: str) -> list[tuple[str, list[str]]]:
    """What IAM checks for one call: (action, the resources it acts on). A DynamoDB transaction is
    authorized per item (PutItem, UpdateItem, ... on its table); an S3 put that sets its own
    retention also needs PutObjectRetention."""
    if service == "dynamodb" and operation == "TransactWriteItems":
        arn = f"arn:aws:dynamodb:{region}:{account}:table/"
        return [(f"dynamodb:{_TRANSACT[kind]}", [arn + body["TableName"]])
                for item in params.get("TransactItems") or [] for kind, body in item.items()]
    found = [(f"{service}:{operation}", resources_of(service, operation, params, region, account))]
    if service == "s3" and operation == "PutObject" and params.get("ObjectLockRetainUntilDate"):
        found.append(("s3:PutObjectRetention", found[0][1]))
    return found


def allowed(stage: str, function: str, action: str, resources: list[str]) -> bool:
    grants = _grants(stage, function)
    action = _ALIASES.get(action, action)
    return all(any(fnmatchcase(action, a) and fnmatchcase(r, res) for a, res in grants) for r in resources)


def install(stage: str, region: str, account: str = "123456789012") -> None:
    """Wrap botocore's call path once per process (later calls only change the stage)."""
    from botocore import client as botocore_client
    from botocore.exceptions import ClientError

    from chalicelib.core.function import current

    _installed[:] = [(stage, region, account)]
    if getattr(botocore_client.BaseClient._make_api_call, "_sellerops_guard", False):  # noqa: SLF001
        return
    original = botocore_client.BaseClient._make_api_call  # noqa: SLF001

    def guarded(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        function = current()
        if function is not None and _installed:
            stage_now, region_now, account_now = _installed[0]
            model = self.meta.service_model
            service = model.signing_name or model.endpoint_prefix
            for action, resources in checks(service, operation_name, api_params, region_now, account_now):
                if not allowed(stage_now, function, action, resources):
                    DENIED.add(f"{function}: {action} on {', '.join(resources)}")
                    raise ClientError({"Error": {"Code": "AccessDeniedException",
                                                 "Message": f"{function}'s role may not {action} (infra/policy.py)"}},
                                      operation_name)
        return original(self, operation_name, api_params)

    guarded._sellerops_guard = True  # type: ignore[attr-defined]
    botocore_client.BaseClient._make_api_call = guarded  # noqa: SLF001
