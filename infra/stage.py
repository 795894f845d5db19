"""A deployed stage's settings, shared by deploy, connect and sellers: its stack and outputs, the
environment the functions read (from chalicelib/resources.py), its SP-API secret, and its
registry of sellers in the state table. Imports nothing else of infra, so nothing imports in a
circle.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib import resources


class CommandError(Exception):
    """Something the user has to act on; printed without a traceback, exit status 1."""


def run_command(body: Callable[[], int], interrupted: str) -> int:
    """A command's exit status: a CommandError is printed without a traceback (1), Ctrl-C says
    what state it left things in (130)."""
    try:
        return body()
    except CommandError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted}", file=sys.stderr)
        return 130


def stack_name(stage: str) -> str:
    return f"{resources.PREFIX}-{stage}"


@dataclass
class Stage:
    """A deployed stage: its region, the endpoint boto3 talks to, and its stack's outputs."""

    name: str
    region: str
    endpoint_url: str | None
    outputs: dict[str, str]
    parameters: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            kwargs = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
            self._clients[service] = boto3.client(service, region_name=self.region, **kwargs)
        return self._clients[service]

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise CommandError(
                f"stack {stack_name(self.name)} has no output {key}: redeploy it "
                f"(make deploy STAGE={self.name})"
            ) from None

    @property
    def secret_id(self) -> str:
        return self.outputs.get(resources.SPAPI_SECRET.output) or resources.SPAPI_SECRET.name(self.name)

    def environment(self) -> dict[str, str]:
        """What the functions of this stage read: every resource name, from the stack's outputs
        (names by the declaration where an output is missing), the region and the endpoint."""
        env = {table.env: table.name(self.name) for table in resources.TABLES}
        for output, variable in resources.output_variables():
            if output in self.outputs:
                env[variable] = self.outputs[output]
        env.update({"SELLEROPS_STAGE": self.name, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region})
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env


def load_stage(name: str, region: str | None = None, endpoint_url: str | None = None) -> Stage:
    """The stage's stack outputs, read from CloudFormation (`sellerops-<stage>`)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise CommandError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    stage = Stage(name, session.region_name, endpoint_url or None, {})
    try:
        stacks = stage.client("cloudformation").describe_stacks(StackName=stack_name(name))["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise CommandError(
                f"no stack {stack_name(name)} in {stage.region}: deploy the stage first "
                f"(make deploy STAGE={name}), or pass the --region it was deployed to"
            ) from None
        raise CommandError(f"cannot read stack {stack_name(name)}: {exc}") from None
    except BotoCoreError as exc:
        raise CommandError(f"cannot reach AWS to read stack {stack_name(name)}: {exc}") from None
    stage.outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    stage.parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get("Parameters", [])
    }
    return stage


# ============================================================================ the secret


def read_secret(stage: Stage) -> dict[str, Any]:
    """The stage's SP-API secret, with every key present."""
    from botocore.exceptions import ClientError

    try:
        raw = stage.client("secretsmanager").get_secret_value(SecretId=stage.secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise CommandError(
                f"secret {stage.secret_id} does not exist: deploy the stage first "
                f"(make deploy STAGE={stage.name})"
            ) from None
        raise CommandError(f"cannot read secret {stage.secret_id} ({code})") from None
    try:
        value = json.loads(raw.get("SecretString") or "{}")
    except ValueError:
        raise CommandError(f"secret {stage.secret_id} does not hold JSON") from None
    if not isinstance(value, dict):
        raise CommandError(f"secret {stage.secret_id} does not hold a JSON object")
    value.setdefault("lwa_app_id", "")
    value.setdefault("lwa_client_secret", "")
    if not isinstance(value.get("sellers"), dict):
        value["sellers"] = {}
    return value


def write_secret(stage: Stage, value: dict[str, Any]) -> None:
    stage.client("secretsmanager").put_secret_value(
        SecretId=stage.secret_id, SecretString=json.dumps(value)
    )


def app_credentials_set(secret: dict[str, Any]) -> bool:
    return bool(secret.get("lwa_app_id")) and bool(secret.get("lwa_client_secret"))


# ============================================================================ the registry of sellers


@contextmanager
def registry(stage: Stage) -> Iterator[Any]:
    """The state table's adapter (`DynamoState`), pointed at this stage.

    The adapter reads its table names from the environment when its models are first built, so
    the environment is set for the duration and put back afterwards, with the models forgotten
    both times (tests run this in the same process as other stages)."""
    from chalicelib.core.dynamo import reset_models
    from chalicelib.core.state import DynamoState

    if resources.STATE.output not in stage.outputs:
        stage.output(resources.STATE.output)  # explains that the stack lacks it
    env = stage.environment()
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    reset_models()
    try:
        yield DynamoState()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_models()


def registered_sellers(stage: Stage) -> dict[str, list[str]]:
    """Seller id -> marketplace ids, from the state table."""
    with registry(stage) as state:
        return {s["seller_id"]: list(s.get("marketplace_ids") or []) for s in state.sellers()}


def unregister_seller(stage: Stage, seller_id: str) -> None:
    # The deployed functions never delete sellers (their role cannot): this command does, with
    # the administrator's credentials. The row's key is the one DynamoState.put_seller writes.
    stage.client("dynamodb").delete_item(
        TableName=stage.output(resources.STATE.output),
        Key={"pk": {"S": "SELLER"}, "sk": {"S": seller_id}},
    )
