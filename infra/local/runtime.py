"""The embedded local stack, assembled: moto server provisioned from infra/template.yaml, the
Amazon simulator, the worker that plays Lambda's SQS poller, the schedules, and the HTTPS API
through `chalice local`'s own server. Everything listens on 127.0.0.1."""
from __future__ import annotations

import importlib
import json
import os
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib import resources, subscriptions
from infra.local.amazon import Delivery, Simulator
from infra.local.stack import (
    LocalStack,
    provision,
    start_moto,
    write_api_token_hash,
    write_page_token_key,
    write_secret,
)
from infra.local.worker import QueueBinding, Worker

PROJECT_DIR = Path(__file__).resolve().parents[2]
LWA_APP_ID = "amzn1.application-oa2-client.local"
AMAZON_SEARCH_LAG_SECONDS = 120.0  # searchOrders: lastUpdatedBefore at least two minutes before the request
LWA_CLIENT_SECRET = "local-client-secret"  # the simulator's, not a real credential


class PortTaken(RuntimeError):
    """The API's port is in use: said in one line, not a traceback."""


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Say at once, in one line, that the API's port is taken (before a minute of starting up)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortTaken(f"port {port} on {host} is taken ({exc.strerror}): choose another one, "
                            f"e.g. make demo PORT={port + 1}, or --port {port + 1}") from None


# moto's default account: the stack's, where Amazon's EventBridge destination would be.
LOCAL_ACCOUNT = "123456789012"


def sellers_of(world: dict[str, Any]) -> list[dict[str, Any]]:
    """Sellers named in the world, or else derived from its orders (the minimal world shape)."""
    declared = {s["sellerId"]: s for s in world.get("sellers") or []}
    marketplaces: dict[str, set[str]] = {}
    for entry in world.get("orders") or []:
        channel = (entry.get("order") or {}).get("salesChannel") or {}
        marketplaces.setdefault(entry["sellerId"], set()).update(
            [channel["marketplaceId"]] if channel.get("marketplaceId") else [])
    for entry in world.get("listings") or []:
        if entry.get("sellerId"):
            marketplaces.setdefault(entry["sellerId"], set()).update(entry.get("marketplaceIds") or [])
    result = []
    for seller_id in sorted(set(declared) | set(marketplaces)):
        seller = declared.get(seller_id, {})
        result.append({
            "sellerId": seller_id,
            "refreshToken": seller.get("refreshToken") or f"Atzr|local-{seller_id}",
            "marketplaceIds": sorted(set(seller.get("marketplaceIds") or []) | marketplaces.get(seller_id, set())),
            **({"profile": seller["profile"]} if seller.get("profile") is not None else {}),
            **({"vcsEnrolled": list(seller["vcsEnrolled"])} if seller.get("vcsEnrolled") else {}),
        })
    return result


def _store_profiles(sellers: list[dict[str, Any]]) -> None:
    """The world's invoicing profiles (`sellers[].profile`), stored as PUT /sellers/{id}/profile
    would; a profile that cannot be used stops the start with the reason."""
    from chalicelib.flows.invoices import rules
    from chalicelib.flows.invoices import wiring as invoices

    for seller in sellers:
        if seller.get("profile") is None:
            continue
        try:
            profile = rules.parse_profile(seller["sellerId"], seller["profile"])
        except rules.ProfileError as refused:
            raise ValueError(f"world: sellers[{seller['sellerId']}].profile: {refused.reason}") from None
        invoices.profiles().save_profile(profile, datetime.now(UTC))


def _store_stock(world: dict[str, Any]) -> None:
    """The warehouse's starting counts (`stock`), set as PUT /stock/{sku} and PATCH would: counted
    before any order of the world, so every order's movements come after them."""
    from chalicelib.core.times import parse_iso
    from chalicelib.flows.stock import service
    from chalicelib.flows.stock import wiring as stock

    moment = datetime.now(UTC)
    created = [parse_iso(str((e.get("order") or {}).get("createdTime"))) for e in world.get("orders") or []]
    counted_at = min([c for c in created if c is not None] + [moment]) - timedelta(hours=1)
    for index, entry in enumerate(world.get("stock") or []):
        seller_id, sku = entry.get("sellerId"), entry.get("sku")
        if not (isinstance(seller_id, str) and isinstance(sku, str) and isinstance(entry.get("onHand"), int)):
            raise ValueError(f"world: stock[{index}]: sellerId, sku and a whole onHand are needed")
        service.set_count(stock.stock(), seller_id, sku, entry["onHand"], counted_at, f"world.{index}",
                          {"type": "count", "by": "world"}, moment)
        settings = {name: entry[key] for key, name in (("safetyBuffer", "safetyBuffer"),
                                                       ("reorderPoint", "reorderPoint"),
                                                       ("discontinued", "discontinued")) if key in entry}
        if settings:
            service.configure(stock.stock(), seller_id, sku, settings, moment)


@dataclass
class LocalRuntime:
    stack: LocalStack
    simulator: Simulator
    app: Any
    worker: Worker
    token: str
    world: dict[str, Any] = field(default_factory=dict)
    api_url: str | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _api_server: Any = None

    # --- assembly --------------------------------------------------------------------------
    @classmethod
    def start(cls, world: dict[str, Any], *, rate_scale: float = 1.0, moto_port: int = 0,
              token: str | None = None, stage: str = "local", fast_sqs: bool = True) -> LocalRuntime:
        if fast_sqs:
            from infra.local import moto_speedups

            moto_speedups.apply()  # same semantics, without moto's O(queue depth) per message
        endpoint = start_moto(moto_port)
        stack = provision(endpoint, stage=stage)
        sellers = sellers_of(world)
        world = {**world, "sellers": sellers}
        # searchOrders looks no later than 2 minutes before the request, in Amazon's time: the
        # stack's clock runs `rate_scale` times faster.
        simulator = Simulator(world, rate_scale=rate_scale, search_lag_seconds=AMAZON_SEARCH_LAG_SECONDS / rate_scale)
        sim_url = simulator.start()
        # As if `make connect` had run: Amazon pushes the sellers' notifications to the intake queue.
        simulator.connect(LWA_APP_ID, stack.outputs[f"{resources.INTAKE.stem}QueueArn"],
                          [s["sellerId"] for s in sellers], list(subscriptions.ALL_TYPES),
                          eventbridge=(LOCAL_ACCOUNT, stack.region))
        simulator.deliver_to(_delivery_to(stack))
        write_secret(stack, LWA_APP_ID, LWA_CLIENT_SECRET,
                     {s["sellerId"]: {"refresh_token": s["refreshToken"]} for s in sellers})
        token = token or os.environ.get("SELLEROPS_API_TOKEN") or secrets.token_urlsafe(24)
        write_api_token_hash(stack, token)
        write_page_token_key(stack)

        os.environ.update(stack.env())
        # Each function's calls are checked against its own IAM policy, as AWS would.
        from infra.local.guard import install

        install("local", stack.region)
        os.environ.update({
            "SPAPI_ENDPOINT": sim_url, "LWA_ENDPOINT": sim_url, "SELLEROPS_RATE_SCALE": str(rate_scale),
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR"),
            "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would flood the console locally
            "FIRST_POLL_WINDOW_DAYS": os.environ.get("FIRST_POLL_WINDOW_DAYS", "60"),
        })
        from chalicelib.core import wiring

        wiring.reset()
        for seller in sellers:
            wiring.state().put_seller(seller["sellerId"], seller["marketplaceIds"])
        _store_profiles(sellers)
        _store_stock(world)
        # Only the world's application gets in (a world without one leaves that check off).
        wiring.state().set_application_id(str(world["applicationId"]) if world.get("applicationId") else None)

        if str(PROJECT_DIR) not in sys.path:
            sys.path.insert(0, str(PROJECT_DIR))
        app = importlib.import_module("app")
        out = stack.outputs
        sqs = stack.client("sqs")
        worker = Worker(sqs=sqs, region=stack.region, queues=[
            QueueBinding(q.suffix, out[f"{q.stem}QueueUrl"], out[f"{q.stem}QueueArn"], getattr(app, q.handler))
            for q in resources.QUEUES])
        return cls(stack=stack, simulator=simulator, app=app, worker=worker, token=token, world=world)

    # --- what a user does --------------------------------------------------------------------
    def deliver(self, bodies: list[str]) -> int:
        """Send raw message bodies to the intake queue, as Amazon's SQS destination would."""
        sqs = self.stack.client("sqs")
        url = self.stack.outputs[f"{resources.INTAKE.stem}QueueUrl"]
        for start in range(0, len(bodies), 10):
            chunk = bodies[start:start + 10]
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": body if body else " "} for i, body in enumerate(chunk)])
        return len(bodies)

    def run_schedule(self, name: str = "poll_orders") -> Any:
        event = {"version": "0", "id": f"local-{time.time_ns()}", "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": "000000000000", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "region": self.stack.region, "resources": [], "detail": {}}
        return getattr(self.app, name)(event, None)

    def alerts_inbox(self) -> str:
        """A queue subscribed to the alerts topic, standing for the seller's e-mail address (the
        local stack delivers no e-mail): its URL."""
        sqs = self.stack.client("sqs")
        url = sqs.create_queue(QueueName=f"{resources.PREFIX}-local-alerts-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.stack.client("sns").subscribe(TopicArn=self.stack.outputs[resources.ALERTS_TOPIC.output],
                                           Protocol="sqs", Endpoint=arn)
        return url

    def read_alerts(self, inbox: str) -> list[tuple[str, str]]:
        """The (subject, text) of the messages the alerts topic delivered to `inbox`, taken off it."""
        sqs = self.stack.client("sqs")
        found = []
        while messages := sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                envelope = json.loads(message["Body"])
                found.append((str(envelope.get("Subject") or ""), str(envelope.get("Message") or "")))
                sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
        return found

    def dead_lettered(self) -> dict[str, int]:
        sqs = self.stack.client("sqs")
        out = self.stack.outputs
        return {q.suffix: int(sqs.get_queue_attributes(QueueUrl=out[f"{q.stem}DeadLetterQueueUrl"],
                                                       AttributeNames=["ApproximateNumberOfMessages"])
                              ["Attributes"]["ApproximateNumberOfMessages"])
                for q in resources.QUEUES}

    # --- serving -----------------------------------------------------------------------------
    def serve_api(self, port: int = 8000, host: str = "127.0.0.1") -> str:
        """The API through chalice local's server (the code path of `chalice local --stage local`),
        answering what API Gateway answers itself as the deployed API does (infra/local/api.py)."""
        from infra.local.api import local_server

        try:
            server = local_server(PROJECT_DIR, host, port)
        except OSError as exc:
            raise PortTaken(f"port {port} on {host} is taken ({exc.strerror}): choose another one "
                            f"(make demo PORT=8001, or --port 8001)") from None
        self._api_server = server
        thread = threading.Thread(target=server.server.serve_forever, name="chalice-local", daemon=True)
        thread.start()
        self._threads.append(thread)
        self.api_url = f"http://{host}:{server.server.server_address[1]}"
        return self.api_url

    def run_background(self, schedule_every: float = 60.0) -> None:
        """Keep working the queues and run the schedules on a timer, until `stop()`."""
        def work():
            self.worker.run_forever(self._stop.is_set)

        def schedules():
            from chalicelib import registry

            while not self._stop.wait(schedule_every):
                for schedule in registry.SCHEDULES:
                    try:
                        self.run_schedule(schedule.name)
                    except Exception as exc:  # keep the timer alive; the handler logs details
                        print(f"schedule {schedule.name} failed: {_what_failed(exc)}", file=sys.stderr)

        for target, name in ((work, "worker"), (schedules, "scheduler")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self._api_server is not None:
            self._api_server.server.shutdown()
        self.simulator.stop()


def _what_failed(exc: Exception) -> str:
    """The exception's type and, for an AWS error, the operation and the error code: never its
    message, which may quote data."""
    error = getattr(exc, "response", None)
    if isinstance(error, dict) and "Error" in error:
        return f"{type(exc).__name__} {getattr(exc, 'operation_name', '?')}: {error['Error'].get('Code')}"
    return type(exc).__name__


def _delivery_to(stack: LocalStack):
    """What Amazon's push does: an SQS destination gets the notification in its queue; an
    EventBridge one gets an event from the partner source, which the stack's rule forwards."""
    def deliver(delivery: Delivery) -> None:
        body = json.dumps(delivery.notification)
        if delivery.kind == "sqs":
            queue_name = delivery.target.rsplit(":", 1)[-1]
            url = stack.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
            stack.client("sqs").send_message(QueueUrl=url, MessageBody=body)
        else:
            # What the stack's EventBridge rule does with an event of Amazon's partner source: the
            # whole event, the notification in `detail`, lands in the intake queue.
            account, region = delivery.target.split("/", 1)
            event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": delivery.notification_type,
                     "source": f"aws.partner/sellingpartnerapi.amazon.com/{account}/{LWA_APP_ID}",
                     "account": account, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "region": region, "resources": [], "detail": delivery.notification}
            url = stack.client("sqs").get_queue_url(
                QueueName=resources.INTAKE.name(stack.stage))["QueueUrl"]
            stack.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(event))
    return deliver


def load_messages(paths: list[str]) -> list[str]:
    """Each file: one JSON object, a JSON array of them, or JSON Lines. A file that is none of
    these is delivered as it is, the way a corrupt message would arrive."""
    bodies: list[str] = []
    for path in paths:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        try:
            data = json.loads(text)
        except ValueError:
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) > 1 and any(_is_json(line) for line in lines):
                bodies.extend(lines)  # JSON Lines; a corrupt line travels as it is
            else:
                bodies.append(text)
            continue
        if isinstance(data, list):
            bodies.extend(json.dumps(item) for item in data)
        else:
            bodies.append(json.dumps(data))
    return bodies


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
