"""The least-privilege IAM policy of a stage's Lambda functions (Chalice `iam_policy_file`).

    python -m infra.policy --stage NAME     # writes .chalice/policy-NAME.json

Chalice's automatic policy sees only `boto3.client` calls in app.py, so `autogen_policy` is false
and every stage has its own policy file, generated here. It grants exactly what the deployed code
calls (tests/unit/test_iam_policy.py finds those calls in app.py and chalicelib/ and fails on a
call without a grant and on a grant without a call), on the resources infra/template.yaml names
for the stage:

- DynamoDB: per table, only the item operations its adapter makes (PynamoDB builds its table
  metadata locally: no DescribeTable). Queries on the orders table go through its two indexes.
- SQS: what Lambda's event source mapping does with the function's role on the consumed queues,
  SendMessage on the queues tasks travel on, GetQueueAttributes on every queue and dead-letter
  queue (/health).
- KMS: Encrypt and Decrypt of buyer data with the data key. Decrypt is also what DynamoDB,
  Secrets Manager and SSM (the token hash is a SecureString under the data key) need from the
  caller, on its behalf, to read what the data key encrypts.
- Secrets Manager: the SP-API secret. SSM: the API token hash (a SecureString).
- CloudWatch Logs: the functions' log groups.

python-amazon-sp-api makes no AWS call (credentials are passed to it explicitly) and Powertools
writes logs and metrics to stdout (EMF), so neither needs a grant.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from chalicelib import registry, resources

PROJECT_DIR = Path(__file__).resolve().parent.parent

# The same rule as the Stage parameter of infra/template.yaml. It also keeps wildcards and ARN
# separators out of the resource names built from the stage.
STAGE_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
STAGE_MAX_LENGTH = 20

ORDERS_INDEXES = tuple(index.name for index in resources.ORDERS.indexes)
CONSUMED_QUEUES = tuple(q.suffix for q in resources.QUEUES)  # app.py's on_sqs_message handlers
# Tasks are sent to the queues some flow's task kinds travel on (chalicelib/registry.py).
TASK_QUEUES = tuple(sorted({task.queue for task in registry.TASK_KINDS.values()}))
DEAD_LETTER_QUEUES = tuple(f"{q.suffix}-dlq" for q in resources.QUEUES)

_REGION = re.compile(r"^(\*|[a-z]{2}(-[a-z]+)+-\d)$")
_ACCOUNT = re.compile(r"^(\*|\d{12})$")


def _check(stage: str, region: str, account: str, partition: str) -> None:
    if not re.fullmatch(STAGE_PATTERN, stage) or len(stage) > STAGE_MAX_LENGTH:
        raise ValueError(f"stage {stage!r}: use lowercase letters, digits and hyphens (at most "
                         f"{STAGE_MAX_LENGTH}), not starting or ending with a hyphen")
    if not _REGION.match(region):
        raise ValueError(f"region {region!r} is not a region name (or '*')")
    if not _ACCOUNT.match(account):
        raise ValueError(f"account {account!r} is not a 12-digit account id (or '*')")
    if partition not in ("aws", "aws-cn", "aws-us-gov"):
        raise ValueError(f"unknown partition {partition!r}")


def _statement(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions,
                                 "Resource": resources[0] if len(resources) == 1 else resources}
    if condition:
        statement["Condition"] = condition
    return statement


def policy_document(stage: str, region: str = "*", account: str = "*", *, partition: str = "aws") -> dict[str, Any]:
    """The policy of every Lambda function of `stage`. `region` and `account` default to "*": the
    resources are named by stage, and the file can be written before the stack exists."""
    _check(stage, region, account, partition)
    prefix = f"sellerops-{stage}"

    def arn(service: str, resource: str) -> str:
        return f"arn:{partition}:{service}:{region}:{account}:{resource}"

    def table(name: str) -> str:
        return arn("dynamodb", f"table/{prefix}-{name}")

    def queue(name: str) -> str:
        return arn("sqs", f"{prefix}-{name}")

    # Chalice names the API handler `sellerops-<stage>` and every other function
    # `sellerops-<stage>-<handler>`; in a SAM deployment of `chalice package`, CloudFormation names
    # them `<stack>-<LogicalId>-<suffix>`, with the stack named sellerops-<stage>. Hence one
    # log group by name and, unavoidably, a wildcard for the others: their names are not known
    # before deployment. (A stage whose name starts with another stage's name and a hyphen, such
    # as dev and dev-eu, would share this grant with it: name stages apart.)
    log_groups = [f"/aws/lambda/{prefix}", f"/aws/lambda/{prefix}-*"]

    statements = [
        _statement("CreateLogGroups", ["logs:CreateLogGroup"],
                   [arn("logs", f"log-group:{group}") for group in log_groups]),
        # `:*` stands for the log streams, which Lambda names at run time.
        _statement("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                   [arn("logs", f"log-group:{group}:*") for group in log_groups]),
        _statement("OrdersTable", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [table("orders")]),
        _statement("OrdersIndexes", ["dynamodb:Query"],
                   [f"{table('orders')}/index/{index}" for index in ORDERS_INDEXES]),
        _statement("BuyerDataTable", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                      "dynamodb:DeleteItem"], [table("buyer-data")]),
        _statement("BuyerDataExpiry", ["dynamodb:Query"], [f"{table('buyer-data')}/index/by_expiry"]),
        _statement("StateTable", ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], [table("state")]),
        # Lambda's event source mapping polls with the function's role.
        _statement("ConsumeQueues",
                   ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes"],
                   [queue(name) for name in CONSUMED_QUEUES]),
        # SendMessageBatch is authorized by sqs:SendMessage.
        _statement("QueueTasks", ["sqs:SendMessage"], [queue(name) for name in TASK_QUEUES]),
        _statement("DeadLetterDepths", ["sqs:GetQueueAttributes"], [queue(name) for name in DEAD_LETTER_QUEUES]),
        # The key's id is made by CloudFormation, so the resource is any key of the account and
        # region (an unavoidable wildcard), narrowed by the condition to the key that carries the
        # stage's alias, the alias the code and infra/template.yaml use.
        _statement("DataKey", ["kms:GenerateDataKey", "kms:Decrypt"], [arn("kms", "key/*")],
                   {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{prefix}"}}),
        # Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
        _statement("SpApiCredentials", ["secretsmanager:GetSecretValue"],
                   [arn("secretsmanager", f"secret:sellerops/{stage}/spapi-??????")]),
        _statement("ApiTokenHash", ["ssm:GetParameter"], [arn("ssm", f"parameter/sellerops/{stage}/api-token-hash")]),
        _statement("PageTokenKey", ["ssm:GetParameter"], [arn("ssm", f"parameter/sellerops/{stage}/page-token-key")]),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def render(stage: str, region: str = "*", account: str = "*") -> str:
    """The policy file's text: stable key order and layout, so regenerating it changes nothing."""
    return json.dumps(policy_document(stage, region, account), indent=2) + "\n"


def policy_path(stage: str, project_dir: Path | str | None = None) -> Path:
    return Path(project_dir or PROJECT_DIR) / ".chalice" / f"policy-{stage}.json"


def write_policy_file(stage: str, project_dir: Path | str | None = None, *, region: str = "*",
                      account: str = "*") -> Path:
    """Write .chalice/policy-<stage>.json (the stage's `iam_policy_file`) and return its path."""
    path = policy_path(stage, project_dir)
    text = render(stage, region, account)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.policy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    print(f"wrote {write_policy_file(args.stage)}")


if __name__ == "__main__":
    main()
