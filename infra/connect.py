"""Connect a deployed stage to Amazon's notifications: `make connect STAGE=x`.

    python -m infra.connect connect    --stage NAME [--seller ID ...] [--types TYPE ...] [--replace]
    python -m infra.connect status     --stage NAME [--seller ID ...] [--types TYPE ...]
    python -m infra.connect disconnect --stage NAME [--seller ID ...] [--types TYPE ...]

(each also takes --region and --endpoint-url, as infra.deploy does).

It needs the app's LWA credentials and the sellers' refresh tokens in the stage's secret
(`python -m infra.sellers set-app` / `add`) and reads the intake queue's ARN from the stack's
outputs (`sellerops-<stage>`, IntakeQueueArn). `connect`:

1. finds (getDestinations) or creates (createDestination, grantless) the SQS destination for the
   intake queue, and the EventBridge destination for the stack's AWS account and region;
2. subscribes every seller in the secret (or the --seller ones) to every notification type in
   `chalicelib/subscriptions.py` (or the --types ones): getSubscription, then createSubscription
   where the seller has none, with the payload version Amazon requires;
3. prints the partner event source Amazon created for the EventBridge destination: associate it
   with an event bus and set the stack parameter ListingsEventBusName to it.

Running it again creates nothing that exists. A subscription that already delivers to another
destination is reported and left alone, unless --replace (then it is deleted and made again).
`status` lists destinations and subscriptions; `disconnect` deletes the subscriptions, then (when
no --seller or --types narrows it) the destinations.

Endpoints: Amazon's regional endpoint for each seller's marketplaces (na, eu, fe); with
SPAPI_ENDPOINT / LWA_ENDPOINT set (the local Amazon simulator), those. Destinations live at one
endpoint: each endpoint used gets its own. Amazon's errors are explained in plain words; a
throttled call is retried at the pace Amazon's x-amzn-RateLimit-Limit header gives.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from chalicelib import resources, subscriptions
from infra.stage import (
    CommandError,
    Stage,
    app_credentials_set,
    load_stage,
    read_secret,
    registered_sellers,
    run_command,
    stack_name,
)

SPAPI_SENDER_ACCOUNT = subscriptions.SQS_SENDER_ACCOUNT
ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
# The AWS region hosting each endpoint, and the AWS regions of the same part of the world (by
# prefix): an endpoint delivers to SQS queues in its own part of the world only.
ENDPOINT_AWS_REGIONS = {"na": "us-east-1", "eu": "eu-west-1", "fe": "us-west-2"}
REGION_GROUP_PREFIXES = {
    "na": ("us-", "ca-", "sa-", "mx-"),
    "eu": ("eu-", "me-", "af-", "il-"),
    "fe": ("ap-",),
}
SQS, EVENTBRIDGE = subscriptions.SQS, subscriptions.EVENTBRIDGE
MAX_THROTTLE_RETRIES = 12
MAX_SERVER_RETRIES = 2


# ============================================================================ pure decisions


def aws_region_group(aws_region: str) -> str | None:
    """The SP-API region group (na, eu, fe) of an AWS region, or None."""
    for group, prefixes in REGION_GROUP_PREFIXES.items():
        if aws_region.startswith(prefixes):
            return group
    return None


def endpoint_group(endpoint: str) -> str | None:
    """na, eu or fe for one of Amazon's endpoints; None for any other (a local simulator)."""
    found = re.match(r"https://sellingpartnerapi-(na|eu|fe)\.amazon\.com/?$", endpoint)
    return found.group(1) if found else None


@cache
def marketplace_groups() -> dict[str, str]:
    """Marketplace id -> region group, from python-amazon-sp-api's table of marketplaces."""
    from sp_api.base import Marketplaces

    groups = {}
    for marketplace in Marketplaces:
        group = endpoint_group(marketplace.endpoint)
        if group:
            groups[marketplace.marketplace_id] = group
    return groups


def queue_region(queue_arn: str) -> str:
    return queue_arn.split(":")[3]


def queue_account(queue_arn: str) -> str:
    return queue_arn.split(":")[4]


def endpoints_for(
    sellers: dict[str, list[str]], fallback_group: str, override: str | None = None
) -> dict[str, list[str]]:
    """Endpoint URL -> the sellers to connect through it.

    A seller goes to the endpoint of each of its marketplaces' region groups; a seller without
    known marketplaces to the fallback group's. With an override (SPAPI_ENDPOINT) every seller
    goes there."""
    if override:
        return {override: sorted(sellers)}
    groups = marketplace_groups()
    result: dict[str, list[str]] = {}
    for seller_id in sorted(sellers):
        seller_groups = {groups[m] for m in sellers[seller_id] if m in groups} or {fallback_group}
        for group in sorted(seller_groups):
            result.setdefault(ENDPOINTS[group], []).append(seller_id)
    return result


def sqs_arn_of(destination: dict[str, Any]) -> str | None:
    return ((destination.get("resource") or {}).get(SQS) or {}).get("arn")


def eventbridge_of(destination: dict[str, Any]) -> dict[str, Any] | None:
    return (destination.get("resource") or {}).get(EVENTBRIDGE) or None


@dataclass
class DestinationPlan:
    sqs: dict[str, Any] | None = None  # the existing destination for the intake queue
    eventbridge: dict[str, Any] | None = None  # the existing one for the stack's account
    create_sqs: bool = False
    create_eventbridge: bool = False
    problems: list[str] = field(default_factory=list)


def plan_destinations(
    existing: Iterable[dict[str, Any]],
    queue_arn: str,
    account_id: str,
    region: str,
    *,
    need_sqs: bool = True,
    need_eventbridge: bool = True,
) -> DestinationPlan:
    """What to create, given the application's destinations at an endpoint: nothing that is
    already there. Amazon allows one EventBridge destination per AWS account; one that exists in
    another region than the stack's is a problem to report, not something to create."""
    plan = DestinationPlan()
    for destination in existing:
        if sqs_arn_of(destination) == queue_arn:
            plan.sqs = destination
        eventbridge = eventbridge_of(destination)
        if eventbridge and eventbridge.get("accountId") == account_id:
            if eventbridge.get("region") == region:
                plan.eventbridge = destination
            else:
                plan.problems.append(
                    f"the application's EventBridge destination {destination.get('destinationId')} "
                    f"for AWS account {account_id} delivers to {eventbridge.get('region')}, not "
                    f"{region} where the stack's listings rule is. Amazon allows one EventBridge "
                    "destination per account: delete it (disconnect) or deploy the stage in "
                    f"{eventbridge.get('region')}"
                )
    plan.create_sqs = need_sqs and plan.sqs is None
    has_eventbridge_problem = bool(plan.problems)
    plan.create_eventbridge = need_eventbridge and plan.eventbridge is None and not has_eventbridge_problem
    return plan


@dataclass(frozen=True)
class Wanted:
    seller_id: str
    notification_type: str
    payload_version: str
    delivery: str


def wanted_subscriptions(seller_ids: Iterable[str], types: Iterable[str]) -> list[Wanted]:
    types = list(types)
    return [
        Wanted(seller_id, t, subscriptions.payload_version(t), subscriptions.delivery(t))
        for seller_id in seller_ids
        for t in types
    ]


KEEP, CREATE, REPLACE, ELSEWHERE = "keep", "create", "replace", "elsewhere"


def plan_subscription(
    existing: dict[str, Any] | None, destination_id: str, *, replace: bool = False
) -> str:
    """keep (already delivers to our destination), create (none), replace or elsewhere (delivers
    to another destination: left alone unless asked to replace it)."""
    if existing is None:
        return CREATE
    if existing.get("destinationId") == destination_id:
        return KEEP
    return REPLACE if replace else ELSEWHERE


def plan_unsubscribe(existing: dict[str, Any] | None, our_destination_ids: set[str]) -> bool:
    """Delete a subscription only when it delivers to one of this stage's destinations."""
    return existing is not None and existing.get("destinationId") in our_destination_ids


def parse_types(values: Iterable[str] | None) -> tuple[str, ...]:
    """--types: names separated by spaces or commas; default every type the project handles."""
    if not values:
        return subscriptions.ALL_TYPES
    names = [n.strip().upper() for v in values for n in re.split(r"[,\s]+", v) if n.strip()]
    unknown = [n for n in names if n not in subscriptions.ALL_TYPES]
    if unknown:
        raise CommandError(
            f"unknown notification type(s) {', '.join(unknown)}; sellerops subscribes to "
            f"{', '.join(subscriptions.ALL_TYPES)} (chalicelib/subscriptions.py)"
        )
    return tuple(t for t in subscriptions.ALL_TYPES if t in names)


# ---------------------------------------------------------------------------- Amazon's errors


@dataclass
class AmazonError(Exception):
    """One refused or failed call, with what Amazon said (never a credential)."""

    operation: str
    status: int | None
    code: str = ""
    message: str = ""
    details: str = ""
    seller_id: str | None = None
    notification_type: str | None = None
    resource: str | None = None  # createDestination: sqs or eventBridge
    rate: float | None = None  # x-amzn-RateLimit-Limit, requests per second

    def __str__(self) -> str:
        said = ": ".join(part for part in (self.code, self.message) if part)
        if self.details:
            said = f"{said} ({self.details})" if said else self.details
        return f"{self.operation} answered {self.status or 'no status'}{': ' + said if said else ''}"

    @property
    def is_lwa(self) -> bool:
        return self.operation == "LWA token"


def _region_advice(group: str | None) -> str:
    if group is None:
        return ""
    regions = ", ".join(f"{p}*" for p in REGION_GROUP_PREFIXES[group])
    return (
        f"Amazon's {group.upper()} endpoint delivers only to queues in its part of the world "
        f"({regions}): deploy the stage in one of those regions, e.g. "
        f"make deploy STAGE=<stage> with AWS_REGION={ENDPOINT_AWS_REGIONS[group]}"
    )


def explain(error: AmazonError, *, stage: str, queue_arn: str, endpoint: str) -> str:
    """Amazon's answer in plain words, with what to do about it."""
    op, status, text = error.operation, error.status, f"{error.details} {error.message}".lower()
    group = endpoint_group(endpoint)
    seller = f"seller {error.seller_id}" if error.seller_id else "the application"

    if error.is_lwa:
        if error.code == "invalid_client" or (error.seller_id is None and status in (400, 401)):
            return (
                "Login with Amazon refused the app's client id or secret: store the ones shown in "
                f"Seller Central → Develop apps with python -m infra.sellers set-app --stage {stage}"
            )
        if error.code == "invalid_grant" or error.seller_id:
            return (
                f"Login with Amazon refused the refresh token of {seller}: it was revoked, or it "
                "was issued to another app. Have the seller authorise the app again, then store "
                f"the new token: python -m infra.sellers add --stage {stage} --seller-id {error.seller_id}"
            )
        return f"Login with Amazon failed ({error.code or status}): try again in a minute"

    if status == 429:
        rate = f" (about {error.rate:g} request/s)" if error.rate else ""
        return (
            f"Amazon kept throttling {op}{rate} after {MAX_THROTTLE_RETRIES} waits. Wait a minute "
            "and run the same command again: it keeps what is done and continues"
        )
    if status is not None and status >= 500:
        return f"Amazon failed {op} ({status}) several times: it is on Amazon's side; try again later"
    if status is None:
        reason = error.code or "network error"
        return f"Could not reach Amazon for {op} ({reason}): check the network and retry"

    if op == "createDestination" and status == 403 and error.resource == SQS:
        return (
            f"Amazon refused to create the SQS destination for {queue_arn}: the intake queue's "
            f"policy must allow account {SPAPI_SENDER_ACCOUNT} to sqs:SendMessage (and "
            "sqs:GetQueueAttributes); deploy the stack's IntakeQueuePolicy "
            f"(make deploy STAGE={stage}). If the policy is in place, check that the stored LWA "
            "credentials are those of the app (set-app)"
        )
    if op == "createDestination" and status == 400 and error.resource == SQS:
        region = queue_region(queue_arn)
        if "region" in text or (group is not None and aws_region_group(region) != group):
            advice = _region_advice(group) or "Use a queue in that endpoint's part of the world"
            return (
                f"Amazon will not deliver to the intake queue: it is in {region}, and the sellers' "
                f"marketplaces are served by {endpoint}. {advice}"
            )
        if "fifo" in text:
            return "Amazon does not deliver to FIFO queues: the intake queue must be a standard queue"
    if op == "deleteDestination" and "destination has subscriptions" in text:
        return (
            "Amazon still holds subscriptions delivering to this destination (perhaps of sellers no "
            "longer in the secret): delete them first (disconnect with those sellers added back), "
            "then run disconnect again"
        )
    if "no destination with id" in text:
        return (
            f"{endpoint} does not know the destination: destinations belong to one endpoint "
            "(na, eu, fe). Run connect again: it finds or creates the destination at this endpoint"
        )
    if status == 403:
        per_seller = ("createSubscription", "getSubscription", "deleteSubscriptionById")
        if op in per_seller and error.notification_type:
            role = subscriptions.ROLES.get(error.notification_type, "the matching role")
            return (
                f"Amazon refused {op} for {error.notification_type} of {seller}: the app needs the "
                f"SP-API role '{role}' (Seller Central → Develop apps → Edit app), and the seller "
                "must authorise the app again after a role is added"
            )
        if op in ("getDestinations", "createDestination", "deleteDestination", "getDestination"):
            return (
                f"Amazon refused the grantless call {op}: check that the stored LWA client id and "
                "secret are those of the app (python -m infra.sellers set-app) and that the app is "
                "registered for SP-API in this region"
            )
        return f"Amazon refused {op} for {seller}: check the app's roles and the seller's authorisation"
    if status == 400 and error.notification_type and "payloadversion" in text:
        return (
            f"Amazon refused the payload version of {error.notification_type}: update "
            "chalicelib/subscriptions.py to the version Amazon documents"
        )
    return f"Amazon refused {op}"


# ============================================================================ talking to Amazon


_GROUP_MARKETPLACE = {"na": "US", "eu": "DE", "fe": "JP"}


class Amazon:
    """The Notifications API at one endpoint, through python-amazon-sp-api: destinations with
    the app's grantless token, subscriptions with each seller's token. Throttled calls wait and
    retry; every other failure becomes an AmazonError."""

    def __init__(
        self,
        endpoint: str,
        app: dict[str, str],
        tokens: dict[str, str],
        *,
        lwa_endpoint: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from sp_api.base import Marketplaces

        self.endpoint = endpoint
        self._app = {"lwa_app_id": app["lwa_app_id"], "lwa_client_secret": app["lwa_client_secret"]}
        self._tokens = tokens
        from chalicelib.core.spapi import token_client_class  # one LWA redirect for app and CLI

        self._token_client = token_client_class(lwa_endpoint)
        self._marketplace = Marketplaces[_GROUP_MARKETPLACE.get(endpoint_group(endpoint) or "eu", "DE")]
        self._sleep = sleep
        self._clients: dict[str | None, Any] = {}
        self.created: dict[str, int] = {"destinations": 0, "subscriptions": 0}
        self.deleted: dict[str, int] = {"destinations": 0, "subscriptions": 0}

    def _client(self, seller_id: str | None = None) -> Any:
        if seller_id not in self._clients:
            from sp_api.api import Notifications
            from sp_api.base.credential_provider import FromCodeCredentialProvider

            client = Notifications(
                self._marketplace,
                refresh_token=self._tokens[seller_id] if seller_id else None,
                credentials=dict(self._app),
                credential_providers=(FromCodeCredentialProvider,),
                auth_token_client_class=self._token_client,
                timeout=20,
            )
            client.endpoint = self.endpoint.rstrip("/")
            self._clients[seller_id] = client
        return self._clients[seller_id]

    def _call(
        self,
        operation: str,
        fn: Callable[[], Any],
        *,
        seller_id: str | None = None,
        notification_type: str | None = None,
        resource: str | None = None,
        missing_is_none: bool = False,
    ) -> Any:
        import httpx
        from sp_api.auth.exceptions import AuthorizationError
        from sp_api.base.exceptions import (
            SellingApiException,
            SellingApiNotFoundException,
            SellingApiRequestThrottledException,
        )

        throttled = failed = 0
        while True:
            try:
                return fn()
            except SellingApiRequestThrottledException as exc:
                rate = _rate_of(exc)
                throttled += 1
                if throttled > MAX_THROTTLE_RETRIES:
                    raise self._error(operation, exc, seller_id, notification_type, resource, rate) from None
                # One request's worth of Amazon's refill rate, a little more each time.
                self._sleep(min(60.0, (1.0 / rate if rate else 1.0) * (1 + throttled / 4)))
            except SellingApiNotFoundException as exc:
                if missing_is_none:
                    return None
                raise self._error(operation, exc, seller_id, notification_type, resource) from None
            except SellingApiException as exc:
                status = exc.code if exc.code != 999 else None
                if status is not None and status >= 500 and failed < MAX_SERVER_RETRIES:
                    failed += 1
                    self._sleep(2.0 * failed)
                    continue
                raise self._error(operation, exc, seller_id, notification_type, resource) from None
            except AuthorizationError as exc:
                raise AmazonError(
                    "LWA token", exc.status_code, str(exc.error_code or ""), str(exc.message or ""),
                    seller_id=seller_id, notification_type=notification_type, resource=resource,
                ) from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if failed < MAX_SERVER_RETRIES:
                    failed += 1
                    self._sleep(2.0 * failed)
                    continue
                raise AmazonError(
                    operation, None, type(exc).__name__, seller_id=seller_id,
                    notification_type=notification_type, resource=resource,
                ) from None

    @staticmethod
    def _error(
        operation: str, exc: Any, seller_id: str | None, notification_type: str | None,
        resource: str | None = None, rate: float | None = None,
    ) -> AmazonError:
        errors = exc.error if isinstance(getattr(exc, "error", None), list) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        return AmazonError(
            operation,
            exc.code if exc.code != 999 else None,
            str(first.get("code") or ""),
            str(first.get("message") or ""),
            str(first.get("details") or ""),
            seller_id=seller_id,
            notification_type=notification_type,
            resource=resource,
            rate=rate,
        )

    # destinations (grantless)

    def destinations(self) -> list[dict[str, Any]]:
        response = self._call("getDestinations", lambda: self._client().get_destinations())
        # python-amazon-sp-api turns an empty payload list into {}.
        payload = response.payload
        return [d for d in payload if isinstance(d, dict)] if isinstance(payload, list) else []

    def create_sqs_destination(self, name: str, queue_arn: str) -> dict[str, Any]:
        response = self._call(
            "createDestination",
            lambda: self._client().create_destination(name=name, arn=queue_arn),
            resource=SQS,
        )
        self.created["destinations"] += 1
        return response.payload

    def create_eventbridge_destination(self, name: str, account_id: str, region: str) -> dict[str, Any]:
        response = self._call(
            "createDestination",
            lambda: self._client().create_destination(name=name, account_id=account_id, region=region),
            resource=EVENTBRIDGE,
        )
        self.created["destinations"] += 1
        return response.payload

    def delete_destination(self, destination_id: str) -> None:
        self._call("deleteDestination", lambda: self._client().delete_destination(destination_id))
        self.deleted["destinations"] += 1

    # subscriptions (the seller's token)

    def subscription(self, want: Wanted) -> dict[str, Any] | None:
        response = self._call(
            "getSubscription",
            lambda: self._client(want.seller_id).get_subscription(
                want.notification_type, payloadVersion=want.payload_version
            ),
            seller_id=want.seller_id,
            notification_type=want.notification_type,
            missing_is_none=True,
        )
        if response is None or not isinstance(response.payload, dict) or not response.payload:
            return None
        return response.payload

    def create_subscription(self, want: Wanted, destination_id: str) -> dict[str, Any]:
        response = self._call(
            "createSubscription",
            lambda: self._client(want.seller_id).create_subscription(
                want.notification_type,
                destination_id=destination_id,
                payload_version=want.payload_version,
            ),
            seller_id=want.seller_id,
            notification_type=want.notification_type,
        )
        self.created["subscriptions"] += 1
        return response.payload

    def delete_subscription(self, want: Wanted, subscription_id: str) -> None:
        # deleteSubscriptionById is grantless in Amazon's model; python-amazon-sp-api sends the
        # seller's token, which Amazon accepts for the application's own subscriptions.
        self._call(
            "deleteSubscriptionById",
            lambda: self._client(want.seller_id).delete_notification_subscription(
                want.notification_type, subscription_id
            ),
            seller_id=want.seller_id,
            notification_type=want.notification_type,
        )
        self.deleted["subscriptions"] += 1


def _rate_of(exc: Any) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    limit = headers.get("x-amzn-RateLimit-Limit")
    if limit is None:
        return None  # what float(None)'s TypeError gives below
    try:
        value = float(limit)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


# ============================================================================ the commands


@dataclass
class Context:
    stage: Stage
    app: dict[str, str]
    tokens: dict[str, str]  # seller id -> refresh token, the sellers to act on
    marketplaces: dict[str, list[str]]
    types: tuple[str, ...]
    queue_arn: str
    account_id: str
    region: str
    replace: bool = False
    narrowed: bool = False  # --seller or --types given
    sleep: Callable[[float], None] = time.sleep
    errors: list[str] = field(default_factory=list)

    def endpoints(self) -> dict[str, list[str]]:
        fallback = aws_region_group(self.region) or "eu"
        sellers = {seller_id: self.marketplaces.get(seller_id, []) for seller_id in self.tokens}
        found = endpoints_for(sellers, fallback, os.environ.get("SPAPI_ENDPOINT") or None)
        if not found:  # no seller: destinations still go to the queue's part of the world
            override = os.environ.get("SPAPI_ENDPOINT") or None
            found = {override or ENDPOINTS[fallback]: []}
        return found

    def amazon(self, endpoint: str) -> Amazon:
        return Amazon(
            endpoint, self.app, self.tokens,
            lwa_endpoint=os.environ.get("LWA_ENDPOINT") or None, sleep=self.sleep,
        )

    def fail(self, error: AmazonError, endpoint: str) -> None:
        plain = explain(error, stage=self.stage.name, queue_arn=self.queue_arn, endpoint=endpoint)
        message = f"{plain}.\n    Amazon said: {error}"
        if message not in self.errors:
            self.errors.append(message)
            print(f"  ! {plain}.", file=sys.stderr)
            print(f"    Amazon said: {error}", file=sys.stderr)

    @property
    def sqs_name(self) -> str:
        return resources.INTAKE.name(self.stage.name)

    @property
    def eventbridge_name(self) -> str:
        return resources.physical(self.stage.name, "listings")


def build_context(stage: Stage, args: argparse.Namespace, sleep: Callable[[float], None]) -> Context:
    secret = read_secret(stage)
    if not app_credentials_set(secret):
        raise CommandError(
            "the app's LWA client id and secret are not stored: "
            f"python -m infra.sellers set-app --stage {stage.name}"
        )
    tokens = {
        seller_id: entry["refresh_token"]
        for seller_id, entry in secret["sellers"].items()
        if isinstance(entry, dict) and entry.get("refresh_token")
    }
    if args.seller:
        wanted = [s.strip() for v in args.seller for s in v.split(",") if s.strip()]
        missing = [s for s in wanted if s not in tokens]
        if missing:
            raise CommandError(
                f"no refresh token stored for {', '.join(missing)}: "
                f"python -m infra.sellers add --stage {stage.name} --seller-id {missing[0]}"
            )
        tokens = {s: tokens[s] for s in wanted}
    queue_arn = stage.output(f"{resources.INTAKE.stem}QueueArn")
    return Context(
        stage=stage,
        app={"lwa_app_id": secret["lwa_app_id"], "lwa_client_secret": secret["lwa_client_secret"]},
        tokens=tokens,
        marketplaces=registered_sellers(stage),
        types=parse_types(args.types),
        queue_arn=queue_arn,
        account_id=queue_account(queue_arn),
        region=queue_region(queue_arn),
        replace=getattr(args, "replace", False),
        narrowed=bool(args.seller or args.types),
        sleep=sleep,
    )


def _short(identifier: str | None) -> str:
    return (identifier or "-")[:8]


def connect(ctx: Context) -> int:
    sqs_types = [t for t in ctx.types if subscriptions.delivery(t) == SQS]
    eventbridge_types = [t for t in ctx.types if subscriptions.delivery(t) == EVENTBRIDGE]
    created = {"destinations": 0, "subscriptions": 0}
    kept = {"destinations": 0, "subscriptions": 0}
    event_sources: set[str] = set()

    for endpoint, seller_ids in ctx.endpoints().items():
        amazon = ctx.amazon(endpoint)
        print(f"Amazon endpoint {endpoint}" + (f" (sellers {', '.join(seller_ids)})" if seller_ids else ""))
        destination_ids: dict[str, str | None] = {SQS: None, EVENTBRIDGE: None}
        try:
            existing = amazon.destinations()
        except AmazonError as error:
            ctx.fail(error, endpoint)
            continue
        plan = plan_destinations(
            existing, ctx.queue_arn, ctx.account_id, ctx.region,
            need_sqs=bool(sqs_types), need_eventbridge=bool(eventbridge_types),
        )
        for problem in plan.problems:
            ctx.errors.append(problem)
            print(f"  ! {problem}.", file=sys.stderr)

        # The SQS destination for the intake queue.
        if plan.sqs is not None:
            destination_ids[SQS] = plan.sqs["destinationId"]
            kept["destinations"] += 1
            print(f"  SQS destination          found    {_short(destination_ids[SQS])}  {ctx.queue_arn}")
        elif plan.create_sqs:
            try:
                made = amazon.create_sqs_destination(ctx.sqs_name, ctx.queue_arn)
                destination_ids[SQS] = made["destinationId"]
                created["destinations"] += 1
                print(f"  SQS destination          created  {_short(destination_ids[SQS])}  {ctx.queue_arn}")
            except AmazonError as error:
                def same_queue(d: dict[str, Any]) -> bool:
                    return sqs_arn_of(d) == ctx.queue_arn
                found = _after_conflict(error, amazon, same_queue)
                if found is None:
                    ctx.fail(error, endpoint)
                else:
                    destination_ids[SQS] = found["destinationId"]
                    kept["destinations"] += 1

        # The EventBridge destination for the stack's account and region.
        if plan.eventbridge is not None:
            destination_ids[EVENTBRIDGE] = plan.eventbridge["destinationId"]
            kept["destinations"] += 1
            resource = eventbridge_of(plan.eventbridge)
            assert resource is not None  # plan_destinations keeps a destination for its EventBridge resource
            source = resource.get("name", "")
            event_sources.add(source)
            print(f"  EventBridge destination  found    {_short(destination_ids[EVENTBRIDGE])}  {source}")
        elif plan.create_eventbridge:
            try:
                made = amazon.create_eventbridge_destination(ctx.eventbridge_name, ctx.account_id, ctx.region)
                destination_ids[EVENTBRIDGE] = made["destinationId"]
                created["destinations"] += 1
                source = (eventbridge_of(made) or {}).get("name", "")
                event_sources.add(source)
                print(f"  EventBridge destination  created  {_short(destination_ids[EVENTBRIDGE])}  {source}")
            except AmazonError as error:
                def ours(d: dict[str, Any]) -> bool:
                    found = eventbridge_of(d) or {}
                    return (found.get("accountId"), found.get("region")) == (ctx.account_id, ctx.region)
                found = _after_conflict(error, amazon, ours)
                if found is None:
                    ctx.fail(error, endpoint)
                else:
                    destination_ids[EVENTBRIDGE] = found["destinationId"]
                    kept["destinations"] += 1
                    event_sources.add((eventbridge_of(found) or {}).get("name", ""))

        # Every seller, every type.
        for seller_id in seller_ids:
            counts = {"created": 0, "kept": 0}
            for want in wanted_subscriptions([seller_id], ctx.types):
                destination_id = destination_ids[want.delivery]
                if destination_id is None:
                    continue  # its destination could not be made: already reported
                try:
                    outcome = _subscribe(ctx, amazon, want, destination_id)
                except AmazonError as error:
                    ctx.fail(error, endpoint)
                    if error.is_lwa or error.status == 429:
                        break  # the same for every other type of this seller
                    continue
                if outcome in (CREATE, REPLACE):
                    counts["created"] += 1
                elif outcome == KEEP:
                    counts["kept"] += 1
            created["subscriptions"] += counts["created"]
            kept["subscriptions"] += counts["kept"]
            print(
                f"  seller {seller_id}: {counts['created']} subscription(s) created, "
                f"{counts['kept']} already in place"
            )
        if not seller_ids:
            print(f"  No sellers to subscribe yet: make add-seller STAGE={ctx.stage.name}")

    print(
        f"{'Connected' if not ctx.errors else 'Connected with problems'}: "
        f"destinations {created['destinations']} created, {kept['destinations']} found; "
        f"subscriptions {created['subscriptions']} created, {kept['subscriptions']} found."
    )
    for source in sorted(s for s in event_sources if s):
        _print_eventbridge_steps(ctx, source)
    return 1 if ctx.errors else 0


def _after_conflict(
    error: AmazonError, amazon: Amazon, match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """After a 409 on createDestination (made meanwhile, or by another run), the destination
    that is there, read back: Amazon's message is not relied on for its id."""
    if error.status != 409:
        return None
    try:
        destinations = amazon.destinations()
    except AmazonError:
        return None
    for destination in destinations:
        if match(destination) and destination.get("destinationId"):
            return destination
    return None


def _subscribe(ctx: Context, amazon: Amazon, want: Wanted, destination_id: str) -> str:
    existing = amazon.subscription(want)
    step = plan_subscription(existing, destination_id, replace=ctx.replace)
    if step == KEEP:
        return KEEP
    if step == ELSEWHERE:
        assert existing is not None  # plan_subscription: elsewhere only for an existing subscription
        message = (
            f"seller {want.seller_id}'s {want.notification_type} subscription delivers to another "
            f"destination ({existing.get('destinationId')}), not to this stage: left as it is; "
            "run connect with --replace to move it here"
        )
        ctx.errors.append(message)
        print(f"  ! {message}.", file=sys.stderr)
        return ELSEWHERE
    if step == REPLACE:
        assert existing is not None  # plan_subscription: replace only an existing subscription
        amazon.delete_subscription(want, existing["subscriptionId"])
    try:
        amazon.create_subscription(want, destination_id)
    except AmazonError as error:
        if error.status != 409:
            raise
        # Made meanwhile (another run): read it back rather than trust the message.
        again = amazon.subscription(want)
        if again is None:
            raise
        return KEEP if again.get("destinationId") == destination_id else ELSEWHERE
    return step


def _print_eventbridge_steps(ctx: Context, source: str) -> None:
    current = ctx.stage.parameters.get("ListingsEventBusName")
    print()
    types = ", ".join(subscriptions.EVENTBRIDGE_TYPES)
    print(f"Listings notifications ({types}) arrive through EventBridge:")
    print(f"  partner event source: {source}")
    if current == source:
        print(f"  The stack's ListingsEventBusName is already {source}: nothing more to do.")
        return
    print(
        f"  1. In the AWS console, EventBridge → Partner event sources (region {ctx.region}): select it "
        "and choose \"Associate with event bus\"; the event bus gets the same name."
    )
    print(
        f"  2. Set the stack parameter ListingsEventBusName to {source} so the stack's rule forwards "
        f"them to the intake queue (it is '{current or 'default'}' now), e.g.:"
    )
    print(
        f"     aws cloudformation update-stack --stack-name {stack_name(ctx.stage.name)} "
        "--use-previous-template "
        f"--parameters ParameterKey=Stage,UsePreviousValue=true "
        f"ParameterKey=ListingsEventBusName,ParameterValue={source}"
    )


def _this_stages_destinations(ctx: Context, amazon, endpoint: str):
    """Amazon's destinations at an endpoint, the plan over them and the ids that deliver to this
    stage; None (after reporting why) when Amazon could not be asked."""
    try:
        existing = amazon.destinations()
    except AmazonError as error:
        ctx.fail(error, endpoint)
        return None
    plan = plan_destinations(existing, ctx.queue_arn, ctx.account_id, ctx.region)
    return existing, plan, {d["destinationId"] for d in (plan.sqs, plan.eventbridge) if d}


def status(ctx: Context) -> int:
    missing = present = 0
    for endpoint, seller_ids in ctx.endpoints().items():
        amazon = ctx.amazon(endpoint)
        print(f"Amazon endpoint {endpoint}")
        found = _this_stages_destinations(ctx, amazon, endpoint)
        if found is None:
            continue
        existing, plan, ours = found
        print("  destinations:" if existing else "  destinations: none")
        for destination in existing:
            eventbridge = eventbridge_of(destination)
            if eventbridge:
                kind, target = "EventBridge", f"{eventbridge.get('name')} ({eventbridge.get('region')})"
            else:
                kind, target = "SQS", sqs_arn_of(destination) or "?"
            mark = "this stage" if destination.get("destinationId") in ours else "other"
            print(f"    {destination.get('destinationId')}  {kind:<11}  {target}  [{mark}]")
        for problem in plan.problems:
            print(f"  ! {problem}.", file=sys.stderr)
        for seller_id in seller_ids:
            print(f"  seller {seller_id}:")
            for want in wanted_subscriptions([seller_id], ctx.types):
                try:
                    existing_sub = amazon.subscription(want)
                except AmazonError as error:
                    ctx.fail(error, endpoint)
                    if error.is_lwa or error.status == 429:
                        break
                    continue
                if existing_sub is None:
                    state, missing = "missing", missing + 1
                elif existing_sub.get("destinationId") in ours:
                    state, present = f"subscribed  {existing_sub.get('subscriptionId')}", present + 1
                else:
                    state = f"elsewhere   destination {existing_sub.get('destinationId')}"
                    missing += 1
                print(f"    {want.notification_type:<36} {want.payload_version:<11} {state}")
    print(f"Subscriptions delivering to this stage: {present} of {present + missing}.")
    return 1 if ctx.errors else 0


def disconnect(ctx: Context) -> int:
    removed = {"destinations": 0, "subscriptions": 0}
    for endpoint, seller_ids in ctx.endpoints().items():
        amazon = ctx.amazon(endpoint)
        print(f"Amazon endpoint {endpoint}")
        found = _this_stages_destinations(ctx, amazon, endpoint)
        if found is None:
            continue
        _, plan, ours = found
        for seller_id in seller_ids:
            count = 0
            for want in wanted_subscriptions([seller_id], ctx.types):
                try:
                    existing_sub = amazon.subscription(want)
                    if plan_unsubscribe(existing_sub, ours):
                        assert existing_sub is not None  # plan_unsubscribe: only an existing subscription
                        amazon.delete_subscription(want, existing_sub["subscriptionId"])
                        count += 1
                except AmazonError as error:
                    ctx.fail(error, endpoint)
                    if error.is_lwa or error.status == 429:
                        break
            removed["subscriptions"] += count
            print(f"  seller {seller_id}: {count} subscription(s) deleted")
        if ctx.narrowed:
            continue  # other sellers or types may still use the destinations
        if ctx.errors:
            print("  destinations kept: some subscriptions could not be deleted", file=sys.stderr)
            continue
        for destination in (plan.sqs, plan.eventbridge):
            if destination is None:
                continue
            try:
                amazon.delete_destination(destination["destinationId"])
                removed["destinations"] += 1
                print(f"  destination {_short(destination['destinationId'])} deleted")
            except AmazonError as error:
                ctx.fail(error, endpoint)
    print(
        f"{'Disconnected' if not ctx.errors else 'Disconnected with problems'}: "
        f"{removed['subscriptions']} subscription(s) and {removed['destinations']} destination(s) deleted."
    )
    return 1 if ctx.errors else 0


COMMANDS = {"connect": connect, "status": status, "disconnect": disconnect}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.connect",
        description="Subscribe a deployed stage to Amazon's SP-API notifications.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {
        "connect": "find or create the destinations and subscribe every seller (safe to re-run)",
        "status": "list the destinations and each seller's subscriptions",
        "disconnect": "delete the subscriptions, then the destinations",
    }
    for name, help_text in helps.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--stage", required=True, help="the deployed stage")
        sub.add_argument(
            "--seller", action="append", metavar="SELLER_ID",
            help="only this seller (repeatable; default: every seller in the secret)",
        )
        sub.add_argument(
            "--types", nargs="+", metavar="TYPE",
            help="only these notification types (default: all in chalicelib/subscriptions.py)",
        )
        sub.add_argument("--region", default=None, help="AWS region (default: AWS_REGION / your AWS config)")
        sub.add_argument(
            "--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
            help="AWS endpoint (default: AWS_ENDPOINT_URL), e.g. a moto server",
        )
        if name == "connect":
            sub.add_argument(
                "--replace", action="store_true",
                help="move subscriptions that deliver to another destination to this stage's",
            )
    return parser


def main(argv: list[str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        stage = load_stage(args.stage, args.region, args.endpoint_url)
        return COMMANDS[args.command](build_context(stage, args, sleep))

    return run_command(body, "run the same command again to finish")

if __name__ == "__main__":
    sys.exit(main())
