"""Deploy sellerops into an AWS account, and take it down again: `make deploy` / `make destroy`.

    python -m infra.deploy deploy  --stage NAME [--region R] [--endpoint-url URL] [--rotate-token]
                                   [--no-api] [--batching-window SECONDS] [--log-retention-days DAYS]
                                   [--alert-email ADDRESS] [--project-dir DIR]
    python -m infra.deploy destroy --stage NAME [--delete-data [--yes]] ...
    python -m infra.deploy outputs --stage NAME ...

`deploy` is safe to re-run; each step changes only what is not already as it should be:

1. infra: the CloudFormation stack `sellerops-<stage>` from infra/template.yaml (generated from
   chalicelib/resources.py; parameter Stage). A new stack is created with
   CreateStack; an existing one is updated through a change set, which is not executed when it is
   empty ("infra: no changes"). Parameters this command does not manage (ListingsEventBusName,
   set when the seller connects) keep their previous value.
2. config: the stack's outputs become the Chalice stage's environment variables in
   .chalice/config.json, with autogen_policy false, the stage's IAM policy file (written by
   infra.policy) and each queue consumer's timeout and memory (chalicelib/resources.py). The rest
   of the file is kept as it is, and the file is rewritten only when something changed.
3. token: the API token is created once. Only its SHA-256 is stored (an SSM SecureString under
   the stack's key); the token itself is printed once. --rotate-token replaces it.
4. app: `chalice deploy --stage <stage>`, with SELLEROPS_STAGE set (app.py names the queues it
   subscribes to from it).
5. sqs: ReportBatchItemFailures on every SQS event source mapping (Chalice cannot set it), found
   by their UUIDs in .chalice/deployed/<stage>.json, and only where it is not already on.
6. api: API Gateway's own answers (no token, unknown route, ...) in the API's error shape.
7. logs: every function's log group, with its retention (--log-retention-days, default 30;
   Lambda would otherwise create it with none, keeping every line for ever).

The alarms (every dead-letter queue, every queue's oldest message) notify the stack's alerts
topic; `--alert-email ADDRESS` subscribes an address to it (the stack parameter AlertEmail).

`destroy` runs `chalice delete`, then deletes the stack. The tables, the invoice bucket, the key and
the SP-API secret are marked DeletionPolicy: Retain and survive, as does the API token hash; they
are listed with the command that removes them: `destroy --delete-data`, which asks for the stage
name (or --yes), deletes the tables, empties (every version) and deletes the bucket, schedules
the key's deletion and force-deletes the secret.

Every AWS call goes through boto3 (and Chalice's botocore), so `--endpoint-url` or AWS_ENDPOINT_URL
points the whole thing at another endpoint, such as a moto server.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import resources
from chalicelib.core.auth import token_hash
from infra.cfn_yaml import parse_template
from infra.stage import stack_name

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_FILE = Path("infra") / "template.yaml"
CONFIG_FILE = Path(".chalice") / "config.json"

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"

# CloudFormation's answer to a change set that would change nothing. Its status is FAILED, with
# one of these reasons (the second comes from stacks with transforms and nested stacks).
_NO_CHANGES_REASONS = ("didn't contain changes", "No updates are to be performed")

_STACK_IN_PROGRESS = re.compile(r"_IN_PROGRESS$")


class DeployError(RuntimeError):
    """A step failed in a way the user has to act on; printed without a traceback."""


# ============================================================================ pure logic


def validate_stage(stage: str, template: dict[str, Any]) -> None:
    """The template's own constraint on Stage (it is part of the bucket name)."""
    spec = template.get("Parameters", {}).get("Stage", {})
    pattern = spec.get("AllowedPattern")
    max_length = spec.get("MaxLength")
    if pattern and not re.fullmatch(pattern, stage):
        raise DeployError(
            f"stage {stage!r}: {spec.get('ConstraintDescription', 'does not match ' + pattern)}"
        )
    if max_length is not None and len(stage) > int(max_length):
        raise DeployError(f"stage {stage!r} is longer than {max_length} characters")


def stack_parameters(
    template: dict[str, Any], stage: str, existing: Iterable[str] | None, given: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Parameters for CreateStack (existing is None) or for an update change set.

    Stage is ours, and so are those this run was given (`--alert-email`). Any other parameter
    keeps the stack's previous value on update (CloudFormation would otherwise fall back to the
    default, undoing e.g. the event bus `make connect` set), and is passed with its default on
    creation, so that an identical re-run compares equal."""
    ours = {"Stage": stage, **(given or {})}
    existing_keys = set(existing or ())
    parameters: list[dict[str, Any]] = []
    for key, spec in template.get("Parameters", {}).items():
        if key in ours:
            parameters.append({"ParameterKey": key, "ParameterValue": ours[key]})
        elif existing is not None and key in existing_keys:
            parameters.append({"ParameterKey": key, "UsePreviousValue": True})
        elif "Default" in spec:
            parameters.append({"ParameterKey": key, "ParameterValue": str(spec["Default"])})
    return parameters


def change_set_outcome(description: dict[str, Any]) -> str:
    """What a described change set means: "pending" (still being computed), "empty" (nothing to
    change: delete it, do not execute), "ready" (execute it) or "failed"."""
    status = description.get("Status", "")
    if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
        return "pending"
    if status == "FAILED":
        return "empty" if means_no_changes(description.get("StatusReason") or "") else "failed"
    if status == "CREATE_COMPLETE" and description.get("ExecutionStatus", "AVAILABLE") == "AVAILABLE":
        # Changes may be empty and the change set still worth executing (only outputs changed).
        return "ready"
    return "failed"


def means_no_changes(message: str) -> bool:
    """Whether CloudFormation's message (a change set's StatusReason, or the error CreateChangeSet
    raises at once, as moto does) says there is nothing to change."""
    return any(marker in message for marker in _NO_CHANGES_REASONS)


def describe_changes(description: dict[str, Any]) -> list[str]:
    lines = []
    for change in description.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replacement = rc.get("Replacement")
        suffix = f" (replacement: {replacement})" if replacement not in (None, "False") else ""
        lines.append(f"{rc.get('Action')} {rc.get('LogicalResourceId')} {rc.get('ResourceType')}{suffix}")
    return lines


def stage_environment(outputs: dict[str, str], stage: str) -> dict[str, str]:
    """The Chalice stage's environment variables taken from the stack's outputs."""
    try:
        return resources.stage_environment(outputs, stage)
    except KeyError as missing:
        raise DeployError(missing.args[0]) from None


def function_settings(stage: str) -> dict[str, dict[str, Any]]:
    """Chalice's `lambda_functions` section: each function's own policy file (its own role,
    infra/policy.py), and each queue consumer's timeout and memory as chalicelib/resources.py
    declares them (the other functions keep the config's defaults)."""
    from infra import policy

    settings: dict[str, dict[str, Any]] = {f: {"iam_policy_file": policy.policy_file(stage, f)}
                                           for f in policy.FUNCTIONS}
    for q in resources.QUEUES:
        settings[q.handler].update({"lambda_timeout": q.timeout_seconds, "lambda_memory_size": q.memory_mb})
    return settings


def merge_stage_config(config: dict[str, Any], stage: str, environment: dict[str, str]) -> dict[str, Any]:
    """A copy of the Chalice config whose stage carries the deployment's settings.

    Everything else is kept, in its order: other stages, other keys of this stage, other
    environment variables. Keys this function sets keep their place when they exist and are
    appended otherwise, so that merging twice gives the same result as merging once."""
    merged = json.loads(json.dumps(config))  # a deep copy that keeps key order
    stages = merged.setdefault("stages", {})
    stage_config = stages.setdefault(stage, {})
    functions = stage_config.setdefault("lambda_functions", {})
    for name, settings in function_settings(stage).items():
        functions.setdefault(name, {}).update(settings)
    stage_config["autogen_policy"] = False
    stage_config.pop("iam_policy_file", None)  # one policy for every function: replaced by one each
    env = stage_config.setdefault("environment_variables", {})
    for name, value in environment.items():
        env[name] = value
    return merged


def api_gateway_stage(config: dict[str, Any], stage: str) -> str:
    """The API Gateway stage Chalice deploys to (its default is "api")."""
    found = (config.get("stages") or {}).get(stage, {}).get("api_gateway_stage")
    return str(found or config.get("api_gateway_stage") or "api")


def render_config(config: dict[str, Any]) -> str:
    """The file's text: 2-space indent, keys in their order, a trailing newline."""
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class SqsEventSource:
    name: str  # Chalice's resource name, e.g. "intake-sqs-event-source"
    queue: str
    uuid: str
    function_arn: str


def sqs_event_sources(deployed: dict[str, Any]) -> list[SqsEventSource]:
    """The SQS event source mappings Chalice recorded in .chalice/deployed/<stage>.json.

    Their records look like {"name": "intake-sqs-event-source", "resource_type": "sqs_event",
    "queue_arn": ..., "event_uuid": ..., "queue": "sellerops-dev-intake", "lambda_arn": ...}."""
    return [
        SqsEventSource(
            name=resource["name"],
            queue=resource.get("queue", ""),
            uuid=resource["event_uuid"],
            function_arn=resource.get("lambda_arn", ""),
        )
        for resource in deployed.get("resources", [])
        if resource.get("resource_type") == "sqs_event"
    ]


def deployed_functions(deployed: dict[str, Any]) -> dict[str, str]:
    """Chalice resource name -> Lambda ARN."""
    return {
        resource["name"]: resource["lambda_arn"]
        for resource in deployed.get("resources", [])
        if resource.get("resource_type") == "lambda_function"
    }


def rest_api_url(deployed: dict[str, Any]) -> str | None:
    for resource in deployed.get("resources", []):
        if resource.get("resource_type") == "rest_api":
            return resource.get("rest_api_url")
    return None


def rest_api_id(deployed: dict[str, Any]) -> str | None:
    for resource in deployed.get("resources", []):
        if resource.get("resource_type") == "rest_api":
            return resource.get("rest_api_id")
    return None


def gateway_response_calls() -> list[dict[str, Any]]:
    """PutGatewayResponse's arguments (besides restApiId) for every answer API Gateway gives
    itself (no token, refused token, unknown route, ...): our error shape, as JSON."""
    from chalicelib.core.http import GATEWAY_RESPONSES

    return [{"responseType": response.kind,
             **({} if response.keeps_status else {"statusCode": str(response.status)}),
             "responseParameters": {"gatewayresponse.header.Content-Type": "'application/json'"},
             "responseTemplates": {"application/json": response.body()}}
            for response in GATEWAY_RESPONSES]


def mapping_update(current: dict[str, Any], batching_window: int | None) -> dict[str, Any]:
    """The UpdateEventSourceMapping arguments (besides UUID) that bring a mapping, as
    GetEventSourceMapping describes it, to what we want; empty when it already is."""
    update: dict[str, Any] = {}
    response_types = list(current.get("FunctionResponseTypes") or [])
    if REPORT_BATCH_ITEM_FAILURES not in response_types:
        update["FunctionResponseTypes"] = response_types + [REPORT_BATCH_ITEM_FAILURES]
    if batching_window is not None and (current.get("MaximumBatchingWindowInSeconds") or 0) != batching_window:
        update["MaximumBatchingWindowInSeconds"] = batching_window
    return update


@dataclass(frozen=True)
class Retained:
    logical_id: str
    resource_type: str
    physical_id: str  # name, URL or key id; "" when not known (the key, once the stack is gone)
    description: str = ""  # the resource's Description, resolved (used to find the key)


_RETAINED_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SecretsManager::Secret": "Name",
}


def retained_resources(
    template: dict[str, Any],
    substitutions: dict[str, str],
    physical_ids: dict[str, str] | None = None,
) -> list[Retained]:
    """The template's resources that outlive the stack (DeletionPolicy: Retain), in template order.

    Physical ids come from the stack when it still exists; otherwise they are the explicit names
    in the template, resolved with `substitutions` (Stage, AWS::AccountId, ...)."""
    physical_ids = physical_ids or {}
    kept = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("DeletionPolicy") != "Retain":
            continue
        props = resource.get("Properties", {})
        physical_id = physical_ids.get(logical_id) or ""
        name_property = _RETAINED_NAME_PROPERTY.get(resource["Type"])
        if not physical_id and name_property in props:
            physical_id = substitute(props[name_property], substitutions)
        description = substitute(props["Description"], substitutions) if "Description" in props else ""
        kept.append(Retained(logical_id, resource["Type"], physical_id, description))
    return kept


def substitute(value: Any, substitutions: dict[str, str]) -> str:
    """Resolve a literal or a `!Sub` string over parameters and pseudo parameters."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name not in substitutions:
                raise DeployError(f"cannot resolve ${{{name}}} in {value['Fn::Sub']!r}")
            return substitutions[name]

        return re.sub(r"\$\{([^}]+)\}", one, value["Fn::Sub"])
    raise DeployError(f"cannot resolve {value!r}")






# ============================================================================ AWS


class Aws:
    """boto3 clients for one region and (optionally) one endpoint, e.g. a moto server."""

    def __init__(self, region: str | None, endpoint_url: str | None) -> None:
        import boto3

        self._session = boto3.session.Session(region_name=region)
        self.region = self._session.region_name
        if not self.region:
            raise DeployError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
        self.endpoint_url = endpoint_url or None
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            kwargs = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
            self._clients[service] = self._session.client(service, **kwargs)
        return self._clients[service]

    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def partition(self) -> str:
        return self._session.get_partition_for_region(self.region)


def _error_code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def describe_stack(aws: Aws, name: str) -> dict[str, Any] | None:
    cloudformation = aws.client("cloudformation")
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except cloudformation.exceptions.ClientError as error:
        if _error_code(error) == "ValidationError" and "does not exist" in str(error):
            return None
        raise


def stack_outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def _wait(check: Callable[[], Any], what: str, timeout: float = 3600.0) -> Any:
    """Poll `check` until it returns something other than None (moto answers at once; AWS takes
    minutes for a stack: poll every few seconds)."""
    deadline = time.monotonic() + timeout
    delay = 0.5
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise DeployError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 10.0)


def _failure_reasons(aws: Aws, stack_id: str) -> list[str]:
    events = aws.client("cloudformation").describe_stack_events(StackName=stack_id)["StackEvents"]
    return [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
        for e in events
        if "FAILED" in e.get("ResourceStatus", "") and e.get("ResourceStatusReason")
    ][:10]


def _wait_for_stack(aws: Aws, stack_id: str, success: str) -> dict[str, Any]:
    cloudformation = aws.client("cloudformation")

    def check() -> dict[str, Any] | None:
        stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        return None if _STACK_IN_PROGRESS.search(stack["StackStatus"]) else stack

    stack = _wait(check, f"stack {stack_id}")
    if stack["StackStatus"] != success:
        reasons = "; ".join(_failure_reasons(aws, stack_id)) or "no reason given"
        raise DeployError(f"stack {stack['StackName']} ended in {stack['StackStatus']}: {reasons}")
    return stack


def _wait_for_stack_deletion(aws: Aws, name: str, stack_id: str) -> None:
    """Polls by name: a deleted stack is no longer found by its name. (By stack id, AWS reports
    DELETE_COMPLETE, but moto 5.2 evaluates a deleted stack's outputs again when describing it,
    which re-creates the deleted queues.)"""

    def check() -> str | None:
        stack = describe_stack(aws, name)
        if stack is None or stack["StackId"] != stack_id or stack["StackStatus"] == "DELETE_COMPLETE":
            return "gone"
        if stack["StackStatus"] == "DELETE_FAILED":
            return "failed"
        return None

    if _wait(check, f"deletion of stack {name}") == "failed":
        reasons = "; ".join(_failure_reasons(aws, stack_id)) or "no reason given"
        raise DeployError(f"stack {name} could not be deleted: {reasons}")


# ============================================================================ deploy steps


@dataclass
class Project:
    directory: Path

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def template_path(self) -> Path:
        return self.directory / TEMPLATE_FILE

    def deployed_path(self, stage: str) -> Path:
        return self.directory / ".chalice" / "deployed" / f"{stage}.json"

    def read_config(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text(encoding="utf-8"))

    def read_template(self) -> tuple[str, dict[str, Any]]:
        body = self.template_path.read_text(encoding="utf-8")
        return body, parse_template(body)

    def read_deployed(self, stage: str) -> dict[str, Any] | None:
        path = self.deployed_path(stage)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


_TABLE = "AWS::DynamoDB::Table"


def _indexes(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {index["IndexName"]: index for index in resource.get("Properties", {}).get("GlobalSecondaryIndexes") or ()}


def index_steps(current: dict[str, Any], target: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The templates that take the stack from `current` to `target` when tables gain or lose
    indexes (DynamoDB creates or deletes one index per table per update, and the code reads
    them): the updates to apply before the app is deployed, each adding one index a table gains
    (the old ones kept, so the running code keeps its indexes and the new code finds its own
    built), and after it, each removing one index a table loses, never before the code that read
    it is gone. The last update is `target` itself. ([], []) when no table's indexes change (one
    update then does it all). An index whose definition changes under the same name cannot be
    replaced in place: give it a new name."""
    current_tables = {name: r for name, r in current.get("Resources", {}).items() if r.get("Type") == _TABLE}
    plans = {}
    for name, resource in target.get("Resources", {}).items():
        if resource.get("Type") != _TABLE or name not in current_tables:
            continue
        old, new = _indexes(current_tables[name]), _indexes(resource)
        changed = sorted(n for n in old.keys() & new.keys() if old[n] != new[n])
        if changed:
            raise DeployError(f"{name}: index {', '.join(changed)} changes its definition; DynamoDB cannot change"
                              " an index in place (give the new one another name)")
        added = [n for n in new if n not in old]
        removed = [n for n in old if n not in new]
        if added or removed:
            plans[name] = (old, new, added, removed)
    if not plans:
        return [], []

    def stone(adds: int, removes: int) -> dict[str, Any]:
        """`target`, each planned table with its first `adds` new indexes and without its first `removes` old ones."""
        step = json.loads(json.dumps(target))
        for name, (old, new, added, removed) in plans.items():
            keep = [n for n in old if n not in removed[:removes]] + [n for n in added[:adds] if n not in old]
            indexes = [old.get(n) or new[n] for n in keep]
            properties = step["Resources"][name]["Properties"]
            properties["GlobalSecondaryIndexes"] = indexes
            used = {key["AttributeName"] for key in properties["KeySchema"]}
            used |= {key["AttributeName"] for index in indexes for key in index["KeySchema"]}
            definitions = {d["AttributeName"]: d for d in
                           current_tables[name]["Properties"].get("AttributeDefinitions", [])
                           + properties.get("AttributeDefinitions", [])}
            properties["AttributeDefinitions"] = [definitions[a] for a in sorted(used)]
        return step

    most_added = max(len(plan[2]) for plan in plans.values())
    most_removed = max(len(plan[3]) for plan in plans.values())
    before = [stone(adds, 0) for adds in range(1, most_added + 1)]
    after = [stone(most_added, removes) for removes in range(1, most_removed + 1)]
    if after:
        after[-1] = target
    else:  # nothing to remove: the last addition is the target
        before[-1] = target
    return before, after


def ensure_stack(aws: Aws, stage: str, body: str, template: dict[str, Any],
                 given: dict[str, str] | None = None) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Step 1: create or update the stack; return its outputs and the updates left for after the
    app is deployed (index_steps: an index a table loses goes once the code no longer reads it)."""
    cloudformation = aws.client("cloudformation")
    name = stack_name(stage)
    stack = describe_stack(aws, name)
    if stack is None:
        print(f"infra: creating stack {name}")
        # CreateStack rather than a CREATE change set: a new stack's change set only lists every
        # resource as Add (and moto 5.2 leaves a stack created that way without outputs).
        stack_id = cloudformation.create_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=stack_parameters(template, stage, existing=None, given=given),
        )["StackId"]
        stack = _wait_for_stack(aws, stack_id, "CREATE_COMPLETE")
        print(f"infra: stack {name} created")
        return stack_outputs(stack), []

    status = stack["StackStatus"]
    if _STACK_IN_PROGRESS.search(status):
        raise DeployError(f"stack {name} is busy ({status}); run deploy again when it is done")
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"):
        raise DeployError(
            f"stack {name} is in {status} and cannot be updated (its creation failed or never ran):"
            f" remove it with `destroy --stage {stage}` and deploy again"
        )
    if status.endswith("_FAILED"):
        raise DeployError(f"stack {name} is in {status}: fix it in the CloudFormation console first")

    deployed = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    before, after = index_steps(deployed if isinstance(deployed, dict) else parse_template(deployed), template)
    if not before and not after:
        return stack_outputs(update_stack(aws, stack, stage, body, template, given)), []
    _wait_for_indexes(aws, stack_outputs(stack), template)  # a deploy resumed: what it began is built first
    for number, step in enumerate(before, 1):
        print(f"infra: index step {number} of {len(before) + len(after)} (a table gains an index)")
        stack = update_stack(aws, stack, stage, body if step is template else _json_body(step), step, given)
        _wait_for_indexes(aws, stack_outputs(stack), step)
    return stack_outputs(stack), after


def _wait_for_indexes(aws: Aws, outputs: dict[str, str], template: dict[str, Any]) -> None:
    """Until every index of the stack's tables is ACTIVE: built (the new code reads them), or
    gone (DynamoDB deletes one at a time)."""
    dynamodb = aws.client("dynamodb")
    for table in resources.TABLES:
        if template.get("Resources", {}).get(table.logical_id, {}).get("Type") != _TABLE \
                or table.output not in outputs:
            continue

        def built(name: str = outputs[table.output]) -> bool | None:
            indexes = dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes") or []
            return True if all(i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes) else None

        _wait(built, f"the indexes of {outputs[table.output]}", timeout=6 * 3600.0)


def _json_body(template: dict[str, Any]) -> str:
    return json.dumps(template, separators=(",", ":"))


def finish_index_steps(aws: Aws, stage: str, steps: list[dict[str, Any]], given: dict[str, str] | None) -> None:
    """After the app: the updates that remove the indexes the code no longer reads, one a table at a time."""
    if not steps:
        return
    stack = describe_stack(aws, stack_name(stage))
    if stack is None:
        raise DeployError(f"stack {stack_name(stage)} is gone: its indexes cannot be finished")
    for number, step in enumerate(steps, 1):
        print(f"infra: index step {number} of {len(steps)} after the app (a table loses an index)")
        stack = update_stack(aws, stack, stage, _json_body(step), step, given)
        _wait_for_indexes(aws, stack_outputs(stack), step)  # deleted before the next goes


def update_stack(aws: Aws, stack: dict[str, Any], stage: str, body: str, template: dict[str, Any],
                 given: dict[str, str] | None) -> dict[str, Any]:
    """One update of an existing stack through a change set (not executed when empty); the stack after it."""
    cloudformation = aws.client("cloudformation")
    name = stack_name(stage)
    existing = [p["ParameterKey"] for p in stack.get("Parameters", [])]
    change_set_name = f"sellerops-deploy-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(2)}"
    try:
        change_set_id = cloudformation.create_change_set(
            StackName=name,
            ChangeSetName=change_set_name,
            ChangeSetType="UPDATE",
            TemplateBody=body,
            Parameters=stack_parameters(template, stage, existing=existing, given=given),
        )["Id"]
    except cloudformation.exceptions.ClientError as error:
        if _error_code(error) == "ValidationError" and means_no_changes(str(error)):
            print("infra: no changes")
            return stack
        raise

    def check() -> dict[str, Any] | None:
        description = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        return None if change_set_outcome(description) == "pending" else description

    description = _wait(check, f"change set {change_set_name}")
    outcome = change_set_outcome(description)
    if outcome == "empty":
        cloudformation.delete_change_set(ChangeSetName=change_set_id)
        print("infra: no changes")
        return stack
    if outcome == "failed":
        raise DeployError(
            f"change set for {name} failed: {description.get('StatusReason') or description.get('Status')}"
        )
    for line in describe_changes(description) or ["(no resource changes; outputs or parameters)"]:
        print(f"infra: change: {line}")
    cloudformation.execute_change_set(ChangeSetName=change_set_id)
    stack = _wait_for_stack(aws, stack["StackId"], "UPDATE_COMPLETE")
    print(f"infra: stack {name} updated")
    return stack


def write_policy(project: Project, stage: str, region: str = "*", account: str = "*", partition: str = "aws") -> None:
    """Each function's IAM policy file, generated by infra.policy, narrowed to the stack's
    region and account."""
    from infra import policy

    for path in policy.write_policy_files(stage, project.directory, region=region, account=account,
                                          partition=partition):
        print(f"config: wrote .chalice/{path.name}")


def write_stage_config(project: Project, stage: str, outputs: dict[str, str]) -> bool:
    """Step 2: hand the outputs to the Chalice stage. Returns whether the file changed."""
    before = project.config_path.read_text(encoding="utf-8")
    merged = merge_stage_config(json.loads(before), stage, stage_environment(outputs, stage))
    after = render_config(merged)
    if after == before:
        print(f"config: stage {stage} in .chalice/config.json is up to date")
        return False
    project.config_path.write_text(after, encoding="utf-8")
    print(f"config: wrote stage {stage} to .chalice/config.json (environment from the stack outputs)")
    return True


def ensure_api_token(aws: Aws, outputs: dict[str, str], rotate: bool) -> str | None:
    """Step 3: create the API token once. Returns the new token, or None when one exists."""
    ssm = aws.client("ssm")
    parameter = outputs[resources.API_TOKEN_HASH.output]
    if not rotate:
        try:
            ssm.get_parameter(Name=parameter)
            print(f"token: the API token hash exists in SSM {parameter} (--rotate-token replaces it)")
            return None
        except ssm.exceptions.ParameterNotFound:
            pass
    token = secrets.token_urlsafe(32)
    ssm.put_parameter(
        Name=parameter,
        Description="sellerops: SHA-256 of the API bearer token (the token itself is not stored)",
        Value=token_hash(token),
        Type="SecureString",
        KeyId=outputs[resources.DATA_KEY.output],
        Overwrite=True,
    )
    print(f"token: stored the SHA-256 of a new API token in SSM {parameter}")
    print("token: the API token is shown this once and stored nowhere; keep it safe:")
    print(f"  SELLEROPS_API_TOKEN={token}")
    return token


def ensure_page_token_key(aws: Aws, outputs: dict[str, str]) -> bool:
    """Step 3b: the key that seals the API's page tokens, created once (True when created).
    Replacing it would only void the page tokens in flight, so it is never rotated here."""
    from chalicelib.core.pages import new_key

    ssm = aws.client("ssm")
    parameter = outputs[resources.PAGE_TOKEN_KEY.output]
    try:
        ssm.get_parameter(Name=parameter)
        print(f"pages: the page-token key exists in SSM {parameter}")
        return False
    except ssm.exceptions.ParameterNotFound:
        pass
    ssm.put_parameter(
        Name=parameter,
        Description="sellerops: the AES-256 key that seals the API's page tokens (nextToken)",
        Value=new_key(),
        Type="SecureString",
        KeyId=outputs[resources.DATA_KEY.output],
        Overwrite=True,
    )
    print(f"pages: stored a new page-token key in SSM {parameter}")
    return True


def chalice_environment(aws: Aws, stage: str, deploy_api: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["SELLEROPS_STAGE"] = stage
    env["AWS_DEFAULT_REGION"] = aws.region
    env["AWS_REGION"] = aws.region
    if aws.endpoint_url:
        env["AWS_ENDPOINT_URL"] = aws.endpoint_url
    # Read by app.py at import: "false" leaves the routes (hence API Gateway) out of the deployment.
    env["SELLEROPS_DEPLOY_API"] = "true" if deploy_api else "false"
    return env


def run_chalice(project: Project, args: list[str], env: dict[str, str]) -> None:
    command = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())",
               "--project-dir", str(project.directory), *args]
    sys.stdout.flush()
    result = subprocess.run(command, cwd=project.directory, env=env, check=False)
    if result.returncode != 0:
        raise DeployError(f"chalice {' '.join(args)} failed (exit {result.returncode})")


def ensure_event_source_settings(
    aws: Aws, deployed: dict[str, Any], batching_window: int | None
) -> None:
    """Step 5: ReportBatchItemFailures (and the batching window, when asked) on the SQS mappings."""
    sources = sqs_event_sources(deployed)
    found = sorted(source.queue for source in sources)
    if len(sources) != len(resources.QUEUES):
        raise DeployError(f"expected {len(resources.QUEUES)} SQS event sources in deployed.json, found {found}")
    lambda_client = aws.client("lambda")
    for source in sources:
        current = lambda_client.get_event_source_mapping(UUID=source.uuid)
        update = mapping_update(current, batching_window)
        if not update:
            print(f"sqs: {source.queue} -> {REPORT_BATCH_ITEM_FAILURES} already on ({source.uuid})")
            continue
        lambda_client.update_event_source_mapping(UUID=source.uuid, **update)
        settings = ", ".join(f"{key}={value}" for key, value in update.items())
        print(f"sqs: {source.queue} -> set {settings} ({source.uuid})")


def ensure_gateway_responses(aws: Aws, deployed: dict[str, Any], api_stage: str) -> int:
    """Step 6: API Gateway's own answers in the API's error shape, then a new deployment of the
    stage so that they take effect (`chalice deploy` rewrites the API, and with it these)."""
    api_id = rest_api_id(deployed)
    if api_id is None:
        return 0
    apigateway = aws.client("apigateway")
    calls = gateway_response_calls()
    for call in calls:
        apigateway.put_gateway_response(restApiId=api_id, **call)
    apigateway.create_deployment(restApiId=api_id, stageName=api_stage,
                                 description="sellerops: gateway responses in the API's error shape")
    print(f"api: {len(calls)} gateway responses answer in the API's error shape (stage {api_stage})")
    return len(calls)


# The values CloudWatch Logs accepts for a log group's retention, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
DEFAULT_LOG_RETENTION_DAYS = 30


def function_log_groups(deployed: dict[str, Any]) -> list[str]:
    """The log group of every deployed function (Lambda names it /aws/lambda/<function name>)."""
    return sorted(f"/aws/lambda/{arn.split(':')[6]}" for arn in deployed_functions(deployed).values())


def ensure_log_retention(aws: Aws, deployed: dict[str, Any], days: int) -> list[str]:
    """Step 7: every function's log group exists and keeps its lines `days` days (Lambda would
    create it on the first line, kept for ever); only what differs is changed."""
    logs = aws.client("logs")
    groups = function_log_groups(deployed)
    current: dict[str, int | None] = {}
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/sellerops-"):
        current.update({g["logGroupName"]: g.get("retentionInDays") for g in page["logGroups"]})
    changed = []
    for group in groups:
        if group not in current:
            logs.create_log_group(logGroupName=group)
        if current.get(group) != days:
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
            changed.append(group)
    print(f"logs: {len(groups)} log groups keep {days} days" + (f" ({len(changed)} set now)" if changed else ""))
    return changed


def deploy(args: argparse.Namespace) -> None:
    project = Project(Path(args.project_dir).resolve())
    body, template = project.read_template()
    validate_stage(args.stage, template)
    aws = Aws(args.region, args.endpoint_url)

    given = {"AlertEmail": args.alert_email} if args.alert_email is not None else {}
    outputs, later = ensure_stack(aws, args.stage, body, template, given)
    write_policy(project, args.stage, aws.region, aws.account_id(), aws.partition())
    write_stage_config(project, args.stage, outputs)
    ensure_api_token(aws, outputs, rotate=args.rotate_token)
    ensure_page_token_key(aws, outputs)

    print(f"app: chalice deploy --stage {args.stage}" + ("" if args.api else " (without the HTTPS API)"))
    run_chalice(project, ["deploy", "--stage", args.stage], chalice_environment(aws, args.stage, args.api))
    deployed = project.read_deployed(args.stage)
    if deployed is None:
        raise DeployError(f"chalice deploy left no .chalice/deployed/{args.stage}.json")
    ensure_event_source_settings(aws, deployed, args.batching_window)
    ensure_gateway_responses(aws, deployed, api_gateway_stage(project.read_config(), args.stage))
    ensure_log_retention(aws, deployed, args.log_retention_days)
    finish_index_steps(aws, args.stage, later, given)

    url = rest_api_url(deployed)
    if not args.api and url:
        print("warning: --no-api had no effect: app.py does not read SELLEROPS_DEPLOY_API")
    if url:
        print(f"api: {url}")
    print(f"deployed stage {args.stage}")


# ============================================================================ destroy


def _retained_now(aws: Aws, stage: str, template: dict[str, Any], stack: dict[str, Any] | None) -> list[Retained]:
    substitutions = {
        "Stage": stage,
        "AWS::AccountId": aws.account_id(),
        "AWS::Region": aws.region,
        "AWS::Partition": aws.partition(),
    }
    physical_ids: dict[str, str] = {}
    if stack is not None:
        paginator = aws.client("cloudformation").get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=stack["StackId"]):
            for summary in page["StackResourceSummaries"]:
                if summary.get("LogicalResourceId") and summary.get("PhysicalResourceId"):
                    physical_ids[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    return retained_resources(template, substitutions, physical_ids)


def _find_key(aws: Aws, description: str) -> str:
    """The key whose Description is `description` and is not already being deleted: once the stack
    (and with it the key's alias) is gone, the description is what is left to find it by."""
    kms = aws.client("kms")
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            try:
                metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            except Exception as error:  # noqa: BLE001 - one unreadable key must not stop the search
                print(f"warning: cannot describe KMS key {key['KeyId']}: {_error_code(error) or error}")
                continue
            if metadata.get("Description") == description and metadata.get("KeyState") != "PendingDeletion":
                return metadata["KeyId"]
    return ""


def _warn_about_queued_messages(aws: Aws, outputs: dict[str, str]) -> None:
    sqs = aws.client("sqs")
    for key in [f"{q.stem}{kind}QueueUrl" for q in resources.QUEUES for kind in ("", "DeadLetter")]:
        if key not in outputs:
            continue
        try:
            attributes = sqs.get_queue_attributes(
                QueueUrl=outputs[key], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        except Exception:  # noqa: BLE001 - only a warning
            continue
        count = int(attributes.get("ApproximateNumberOfMessages", "0"))
        if count:
            print(f"warning: {outputs[key].rsplit('/', 1)[-1]} holds {count} messages; they go with the stack")


def _empty_and_delete_bucket(aws: Aws, bucket: str) -> bool:
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError as error:
        if _error_code(error) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(objects), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects[start:start + 1000], "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
    return True


def _delete_retained(aws: Aws, item: Retained) -> str:
    """Delete one retained resource; returns what happened, for the report."""
    if item.resource_type == "AWS::DynamoDB::Table":
        dynamodb = aws.client("dynamodb")
        try:
            dynamodb.delete_table(TableName=item.physical_id)
            return "deleted"
        except dynamodb.exceptions.ResourceNotFoundException:
            return "already gone"
    if item.resource_type == "AWS::S3::Bucket":
        return ("emptied (all versions) and deleted" if _empty_and_delete_bucket(aws, item.physical_id)
                else "already gone")
    if item.resource_type == "AWS::SecretsManager::Secret":
        secretsmanager = aws.client("secretsmanager")
        try:
            # Asked first: a forced DeleteSecret succeeds whether or not the secret exists.
            secretsmanager.describe_secret(SecretId=item.physical_id)
        except secretsmanager.exceptions.ResourceNotFoundException:
            return "already gone"
        secretsmanager.delete_secret(SecretId=item.physical_id, ForceDeleteWithoutRecovery=True)
        return "force-deleted"
    if item.resource_type == "AWS::KMS::Key":
        if not item.physical_id:
            return "not found (already scheduled for deletion?)"
        kms = aws.client("kms")
        try:
            response = kms.schedule_key_deletion(KeyId=item.physical_id, PendingWindowInDays=7)
        except (kms.exceptions.KMSInvalidStateException, kms.exceptions.NotFoundException):
            return "already scheduled for deletion or gone"
        when = response.get("DeletionDate")
        return f"deletion scheduled for {when:%Y-%m-%d}" if when else "deletion scheduled in 7 days"
    return "left alone (unknown type)"


_WHAT_IT_HOLDS = {
    **{table.logical_id: table.holds for table in resources.TABLES},
    **{named.logical_id: named.holds
       for named in (resources.INVOICE_BUCKET, resources.DATA_KEY, resources.SPAPI_SECRET)},
}


def destroy(args: argparse.Namespace) -> None:
    project = Project(Path(args.project_dir).resolve())
    _, template = project.read_template()
    validate_stage(args.stage, template)
    aws = Aws(args.region, args.endpoint_url)
    name = stack_name(args.stage)

    if args.delete_data and not args.yes:
        if not sys.stdin.isatty():
            raise DeployError("--delete-data deletes orders, invoices, the key and the credentials: add --yes")
        answer = input(f"This deletes every order, invoice and credential of stage {args.stage} for good."
                       f" Type the stage name to confirm: ")
        if answer.strip() != args.stage:
            raise DeployError("not confirmed; nothing was deleted")

    stack = describe_stack(aws, name)
    retained = _retained_now(aws, args.stage, template, stack)
    outputs = stack_outputs(stack) if stack else {}
    token_parameter = outputs.get(resources.API_TOKEN_HASH.output, resources.API_TOKEN_HASH.name(args.stage))

    deployed = project.read_deployed(args.stage)
    if deployed and deployed.get("resources"):
        print(f"app: chalice delete --stage {args.stage}")
        run_chalice(project, ["delete", "--stage", args.stage], chalice_environment(aws, args.stage, True))
    else:
        print(f"app: nothing deployed by chalice for stage {args.stage}")

    if stack is not None:
        _warn_about_queued_messages(aws, outputs)
        print(f"infra: deleting stack {name}")
        aws.client("cloudformation").delete_stack(StackName=stack["StackId"])
        _wait_for_stack_deletion(aws, name, stack["StackId"])
        print(f"infra: stack {name} deleted")
    else:
        print(f"infra: no stack {name}")

    key = next((item for item in retained if item.resource_type == "AWS::KMS::Key"), None)
    if key is not None and not key.physical_id and args.delete_data:
        found = _find_key(aws, key.description)
        retained = [Retained(i.logical_id, i.resource_type, found, i.description) if i is key else i for i in retained]

    if args.delete_data:
        # The key last: it encrypts the others.
        for item in sorted(retained, key=lambda i: i.resource_type == "AWS::KMS::Key"):
            label = item.physical_id or item.logical_id
            print(f"data: {item.resource_type} {label}: {_delete_retained(aws, item)}")
        ssm = aws.client("ssm")
        try:
            ssm.delete_parameter(Name=token_parameter)
            print(f"data: SSM parameter {token_parameter}: deleted")
        except ssm.exceptions.ParameterNotFound:
            print(f"data: SSM parameter {token_parameter}: already gone")
        print(f"destroyed stage {args.stage}, data included")
        return

    remove = f"  python -m infra.deploy destroy --stage {args.stage} --delete-data"
    if stack is None:
        print("Data a previous destroy kept (tables, invoice bucket, key, secret), if any, is removed by:")
        print(remove)
        return

    print("kept (DeletionPolicy: Retain; they hold your data):")
    for item in retained:
        label = item.physical_id
        if item.resource_type == "AWS::KMS::Key":
            label = outputs.get(resources.DATA_KEY.output) or label
        hint = _WHAT_IT_HOLDS.get(item.logical_id, "")
        print(f"  {item.resource_type:28} {label or item.logical_id}" + (f"  ({hint})" if hint else ""))
    print(f"  {'AWS::SSM::Parameter':28} {token_parameter}  (the API token's hash)")
    print(f"Deploying stage {args.stage} again needs them gone (their names are fixed and CloudFormation"
          " does not adopt existing resources). To delete them for good, invoices included:")
    print(remove)
    print(f"destroyed stage {args.stage}, data kept")


def outputs(args: argparse.Namespace) -> None:
    aws = Aws(args.region, args.endpoint_url)
    stack = describe_stack(aws, stack_name(args.stage))
    if stack is None:
        raise DeployError(f"no stack {stack_name(args.stage)}: run deploy first")
    print(json.dumps(stack_outputs(stack), indent=2, sort_keys=True))


# ============================================================================ command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--stage", required=True, help="the Chalice stage; names every resource")
        sub.add_argument("--region", default=None, help="AWS region (default: AWS_REGION / your AWS config)")
        sub.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                         help="send every AWS call there, e.g. a moto server (default: AWS_ENDPOINT_URL)")
        sub.add_argument("--project-dir", default=str(PROJECT_DIR), help="the project (default: this repository)")

    sub = commands.add_parser("deploy", help="create or update the stack, the Chalice app and the API token")
    common(sub)
    sub.add_argument("--rotate-token", action="store_true", help="replace the API token with a new one")
    sub.add_argument("--no-api", dest="api", action="store_false",
                     help="deploy the queue and schedule handlers only, without API Gateway (needs"
                          " app.py to honour SELLEROPS_DEPLOY_API=false; removes an API deployed before)")
    sub.add_argument("--batching-window", type=int, default=None, metavar="SECONDS",
                     help="MaximumBatchingWindowInSeconds for both SQS mappings (default: leave"
                          " Chalice's). Chalice resets it to the on_sqs_message value on every deploy,"
                          " so setting maximum_batching_window_in_seconds there is the better place")
    sub.add_argument("--log-retention-days", type=int, default=DEFAULT_LOG_RETENTION_DAYS,
                     choices=LOG_RETENTION_DAYS, metavar="DAYS",
                     help=f"how long the functions' log groups keep their lines (default "
                          f"{DEFAULT_LOG_RETENTION_DAYS}; one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, ...)")
    sub.add_argument("--alert-email", default=None, metavar="ADDRESS",
                     help="send the alarms to this address (AWS asks it to confirm once); '' removes it;"
                          " without the option, the stack keeps the address it has")
    sub.set_defaults(handler=deploy)

    sub = commands.add_parser("destroy", help="remove the Chalice app and the stack; keep the data")
    common(sub)
    sub.add_argument("--delete-data", action="store_true",
                     help="also delete the tables, the invoice bucket, the key and the secret")
    sub.add_argument("--yes", action="store_true", help="do not ask to confirm --delete-data")
    sub.set_defaults(handler=destroy)

    sub = commands.add_parser("outputs", help="print the stack's outputs")
    common(sub)
    sub.set_defaults(handler=outputs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
