"""The generic state: small records in the state table, keyed by (pk, sk).

| pk | sk | what |
|---|---|---|
| `FAILURE#<queue>` | `<sent at>#<message id>` | why a message failed (GET /failures) |
| `SCHEDULE` | schedule name | its last run |
| `INTAKE` | `last` | the last notification batch (GET /health) |
| `SELLER` | seller id | a seller this deployment serves, and its marketplaces |
| `WATERMARK` | `<name>` | how far a backstop poller has read (orders: `<seller>#<marketplace>`) |
| `BUCKET` | `<seller>#<operation>` | the shared rate limiter's GCRA state (`tat`) |
| `SEARCH` | `<seller>#<marketplace>` | an open search door for orders' details: since when, and the chain's lease |
| `CALL#<seller>` | `<operation>#<key>` | a call to Amazon that must happen at most once (core/once.py) |
| `REQUEST#<token>` | `<route>#<Idempotency-Key>` | a write request and its answer, a day (core/idempotency.py) |
| `TOKEN` | `<token id>` | a named API token: the hash of its secret, scopes, sellers, uses (core/tokens.py) |

Only this module knows the table's model; the limiter and the call ledger use its methods.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib import config, resources
from chalicelib.core.dynamo import models_builder, unless_refused
from chalicelib.core.times import iso, now, parse_iso
from chalicelib.core.tokens import TokenRecord

# How long a request sent with an Idempotency-Key holds its key before an answer is stored:
# longer than the API function may run (resources.API_TIMEOUT_SECONDS, 60 s), with a margin.
ANSWER_LEASE_SECONDS = 120


@dataclass(frozen=True)
class _StateModels:
    # Any: the model class is built at run time (table name from the environment), so mypy cannot see its attributes.
    state: Any


@models_builder
@cache
def _state_models() -> _StateModels:
    class StateRow(Model):
        class Meta:
            table_name = config.table_name(resources.STATE)

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        data = JSONAttribute(null=True)
        tat = NumberAttribute(null=True)  # rate limiter: theoretical arrival time, epoch seconds
        marketplace_ids = UnicodeSetAttribute(null=True)  # sellers: marketplaces seen in notifications
        status = UnicodeAttribute(null=True)  # calls to Amazon: intent | done | refused
        lease_until = NumberAttribute(null=True)  # calls: until when the attempt holding it may call
        owner = UnicodeAttribute(null=True)  # calls: the attempt holding the lease
        last_used_at = UnicodeAttribute(null=True)  # tokens
        revoked_at = UnicodeAttribute(null=True)  # tokens
        updated_at = UnicodeAttribute(null=True)
        expires_at = TTLAttribute(null=True)

    return _StateModels(StateRow)


@dataclass(frozen=True)
class Failure:
    message_id: str
    queue: str
    reason: str
    kind: str  # "invalid" (can never succeed) | "unexpected" (a bug or an outage: retried)
    first_seen: str
    last_seen: str
    receive_count: int
    dead_lettered: bool
    notification_type: str | None = None
    notification_id: str | None = None
    body_sha256: str | None = None
    body_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CallRecord:
    """A call to Amazon that must happen at most once, as the ledger holds it."""

    status: str  # "intent": made or being made, outcome unknown; "done"; "refused"
    owner: str | None  # the attempt holding the lease
    lease_until: float | None
    fingerprint: str
    result: Any = None
    reason: str | None = None
    attempts: int = 0


class DynamoState:
    """Small records in the state table, keyed by (pk, sk)."""

    def __init__(self) -> None:
        self._noted: set[tuple[str, str | None]] = set()  # (seller, marketplace) written by this container
        self._searches: dict[str, tuple[tuple[datetime, float] | None, float]] = {}  # name → (search, read at)
        self._heartbeat_at: float | None = None  # when this container last wrote the intake's heartbeat

    @staticmethod
    def _row() -> Any:  # Any: StateRow, a class built at run time (_state_models)
        return _state_models().state

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> Any:
        try:
            return self._row().get(pk, sk, consistent_read=consistent)
        except DoesNotExist:
            return None

    # failures
    def record_failure(self, failure: Failure, sent_at: str) -> None:
        Row = self._row()
        Row(f"FAILURE#{failure.queue}", f"{sent_at}#{failure.message_id}").update(actions=[
            Row.data.set(failure.to_dict()),
            Row.updated_at.set(failure.last_seen),
        ])

    def list_failures(self, queue: str, limit: int = 50,
                      after: str | None = None) -> tuple[list[tuple[str, Failure]], bool]:
        """A queue's failures, the newest message first, each with its sort key, from after the
        sort key `after`; and whether more may follow."""
        start = {"pk": {"S": f"FAILURE#{queue}"}, "sk": {"S": after}} if after else None
        results = self._row().query(f"FAILURE#{queue}", scan_index_forward=False, limit=limit,
                                    last_evaluated_key=start)
        found = [(str(row.sk), Failure(**row.data)) for row in results]
        return found, results.last_evaluated_key is not None

    # watermarks of the backstop pollers
    def watermark(self, name: str) -> datetime | None:
        row = self._get("WATERMARK", name)
        return parse_iso((row.data or {}).get("last_updated_before")) if row else None

    def set_watermark(self, name: str, value: datetime) -> None:
        Row = self._row()
        Row("WATERMARK", name).update(actions=[
            Row.data.set({"last_updated_before": iso(value)}), Row.updated_at.set(iso(now()))])

    # schedules
    def record_run(self, name: str, at: datetime, result: dict[str, Any]) -> None:
        Row = self._row()
        Row("SCHEDULE", name).update(actions=[Row.data.set({"at": iso(at), **result}), Row.updated_at.set(iso(at))])

    def runs(self) -> dict[str, dict[str, Any]]:
        return {row.sk: row.data for row in self._row().query("SCHEDULE")}

    # intake heartbeat: at most one write per container every HEARTBEAT_SECONDS, whatever the
    # number of batches (at 50,000 orders a day a write per batch was a tenth of a request per
    # notification); /health's `intake.last` is that much late at most
    HEARTBEAT_SECONDS = 30.0

    def record_intake(self, at: datetime, notification_type: str | None, count: int) -> None:
        moment = time.monotonic()
        if self._heartbeat_at is not None and moment - self._heartbeat_at < self.HEARTBEAT_SECONDS:
            return
        self._heartbeat_at = moment
        Row = self._row()
        Row("INTAKE", "last").update(actions=[
            Row.data.set({"at": iso(at), "notification_type": notification_type, "batch_size": count}),
            Row.updated_at.set(iso(at)),
        ])

    def last_intake(self) -> dict[str, Any] | None:
        row = self._get("INTAKE", "last")
        return row.data if row else None

    # the deployment's SP-API application (its id is not a secret: Amazon puts it in every notification)
    def set_application_id(self, application_id: str | None) -> None:
        Row = self._row()
        Row("CONFIG", "application").update(actions=[
            Row.data.set({"application_id": application_id}), Row.updated_at.set(iso(now()))])

    def application_id(self) -> str | None:
        row = self._get("CONFIG", "application")
        found = (row.data or {}).get("application_id") if row is not None else None
        return str(found) if found else None

    # sellers served by this deployment (credentials live in Secrets Manager, not here)
    def put_seller(self, seller_id: str, marketplace_ids: list[str], name: str | None = None) -> None:
        Row = self._row()
        Row("SELLER", seller_id).update(actions=[
            Row.data.set({"seller_id": seller_id, "marketplace_ids": sorted(set(marketplace_ids)), "name": name}),
            Row.updated_at.set(iso(now())),
        ])

    def note_sellers(self, seen: dict[str, set[str]]) -> None:
        """Remember which marketplaces each seller's notifications came from (one write per
        seller per batch), so the backstop polls every seller this deployment serves."""
        Row = self._row()
        for seller_id, marketplaces in seen.items():
            pairs: set[tuple[str, str | None]] = {(seller_id, m) for m in marketplaces} or {(seller_id, None)}
            if pairs <= self._noted:
                continue  # already written by this container: no request
            actions = [Row.updated_at.set(iso(now()))]
            if marketplaces:
                actions.append(Row.marketplace_ids.add(marketplaces))
            with unless_refused():  # only sellers registered by `make add-seller`: never a new row
                Row("SELLER", seller_id).update(actions=actions, condition=Row.pk.exists())
            self._noted |= pairs

    def sellers(self) -> list[dict[str, Any]]:
        result = []
        for row in self._row().query("SELLER"):
            data = dict(row.data or {"seller_id": row.sk, "marketplace_ids": [], "name": None})
            data["marketplace_ids"] = sorted(set(data.get("marketplace_ids") or []) | set(row.marketplace_ids or ()))
            result.append(data)
        return result

    # the search door of the orders' details (flows/orders/service.py): where an open search
    # began and until when its chain holds it (epoch seconds); read at most every few seconds
    # per container, since every waiting details task asks
    SEARCH_CACHE_SECONDS = 5.0

    def search(self, name: str) -> tuple[datetime, float] | None:
        cached = self._searches.get(name)
        if cached is not None and time.monotonic() - cached[1] < self.SEARCH_CACHE_SECONDS:
            return cached[0]
        found = _search_of(self._get("SEARCH", name))
        self._searches[name] = (found, time.monotonic())
        return found

    def open_search(self, name: str, since: datetime, until: float, now_s: float) -> bool:
        """Open the search unless an open one holds it (False then)."""
        Row = self._row()
        with unless_refused() as written:
            Row("SEARCH", name).update(actions=[Row.data.set({"since": iso(since)}), Row.lease_until.set(until),
                                                Row.updated_at.set(iso(now()))],
                                       condition=Row.lease_until.does_not_exist() | (Row.lease_until < now_s))
        self._searches.pop(name, None)
        return written.ok

    def move_search(self, name: str, since: datetime, until: float) -> None:
        Row = self._row()
        Row("SEARCH", name).update(actions=[Row.data.set({"since": iso(since)}), Row.lease_until.set(until),
                                            Row.updated_at.set(iso(now()))])
        self._searches[name] = ((since, until), time.monotonic())

    def close_search(self, name: str) -> None:
        """Closed: its lease ends now (the record stays, for /health's last search)."""
        Row = self._row()
        Row("SEARCH", name).update(actions=[Row.lease_until.set(0), Row.updated_at.set(iso(now()))])
        self._searches[name] = (None, time.monotonic())

    def searches(self) -> dict[str, tuple[datetime, float]]:
        """Every search record (open, closed or silent), by name: since when, and its lease."""
        return {str(row.sk): found for row in self._row().query("SEARCH") if (found := _search_of(row))}

    # the shared rate limiter's buckets
    def bucket(self, key: str) -> float | None:
        Row = self._row()
        try:
            tat: float | None = Row.get("BUCKET", key, consistent_read=True, attributes_to_get=["pk", "sk", "tat"]).tat
            return tat
        except DoesNotExist:
            return None

    def move_bucket(self, key: str, expected: float | None, new: float) -> bool:
        """Set a bucket's TAT if it still holds `expected`; False when another caller moved it."""
        Row = self._row()
        condition = Row.tat.does_not_exist() if expected is None else Row.tat == expected
        with unless_refused() as written:
            Row("BUCKET", key).update(actions=[Row.tat.set(new)], condition=condition)
        return written.ok

    # calls to Amazon that must happen at most once
    def call(self, seller_id: str, name: str) -> CallRecord | None:
        row = self._get(f"CALL#{seller_id}", name, consistent=True)
        if row is None:
            return None
        data = row.data or {}
        return CallRecord(row.status, row.owner, row.lease_until, data.get("fingerprint", ""), data.get("result"),
                          data.get("reason"), int(data.get("attempts", 0)))

    def lease_call(self, seller_id: str, name: str, fingerprint: str, owner: str, now_s: float,
                   lease_seconds: float, attempts: int) -> bool:
        """Record the intent to call, and take the right to make the call: only when nobody has
        recorded it, or the attempt that did has let its lease run out without an answer."""
        Row = self._row()
        condition = Row.pk.does_not_exist() | ((Row.status == "intent") & (Row.lease_until < now_s))
        with unless_refused() as written:
            Row(f"CALL#{seller_id}", name).update(actions=[
                Row.status.set("intent"), Row.owner.set(owner), Row.lease_until.set(now_s + lease_seconds),
                Row.data.set({"fingerprint": fingerprint, "attempts": attempts}), Row.updated_at.set(iso(now()))],
                condition=condition)
        return written.ok

    def release_call(self, seller_id: str, name: str, owner: str) -> None:
        """The attempt holding the lease does not know what came of its call (a timeout): the
        intent stays, and the next attempt may reconcile at once instead of waiting out the lease."""
        Row = self._row()
        with unless_refused():
            Row(f"CALL#{seller_id}", name).update(actions=[Row.lease_until.set(0)],
                                                  condition=(Row.status == "intent") & (Row.owner == owner))

    def settle_call(self, seller_id: str, name: str, owner: str | None, status: str, fingerprint: str,
                    result: Any = None, reason: str | None = None, attempts: int = 0) -> bool:
        """Write what came of a call (done with its result, or refused with Amazon's reason),
        if `owner` still holds the lease (None: whoever holds it, after Amazon confirmed it)."""
        Row = self._row()
        condition = Row.status == "intent"
        if owner is not None:
            condition = condition & (Row.owner == owner)
        data = {"fingerprint": fingerprint, "result": result, "reason": reason, "attempts": attempts}
        with unless_refused() as written:
            Row(f"CALL#{seller_id}", name).update(actions=[
                Row.status.set(status), Row.data.set(data), Row.lease_until.remove(), Row.updated_at.set(iso(now()))],
                condition=condition)
        return written.ok

    # named API tokens (the secret is never stored, only its hash)
    def put_token(self, record: TokenRecord) -> bool:
        """Store a new token's record; False when its id is taken (nothing is overwritten)."""
        Row = self._row()
        data = {"name": record.name, "secret_hash": record.secret_hash, "scopes": list(record.scopes),
                "sellers": None if record.sellers is None else list(record.sellers), "created_at": record.created_at}
        with unless_refused() as written:
            Row("TOKEN", record.token_id).update(actions=[Row.data.set(data), Row.updated_at.set(record.created_at)],
                                                 condition=Row.pk.does_not_exist())
        return written.ok

    def token(self, token_id: str) -> TokenRecord | None:
        row = self._get("TOKEN", token_id)
        return _token_of(row) if row is not None else None

    def tokens(self) -> list[TokenRecord]:
        return [_token_of(row) for row in self._row().query("TOKEN")]

    def touch_token(self, token_id: str, at: datetime) -> None:
        """Note a use of the token (its last-used time)."""
        Row = self._row()
        with unless_refused():
            Row("TOKEN", token_id).update(actions=[Row.last_used_at.set(iso(at))], condition=Row.pk.exists())

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        Row = self._row()
        with unless_refused() as written:
            Row("TOKEN", token_id).update(actions=[Row.revoked_at.set(iso(at))],
                                          condition=Row.pk.exists() & Row.revoked_at.does_not_exist())
        return written.ok


    # write requests sent with an Idempotency-Key: their fingerprint and answer, kept a day
    def claim_request(self, caller: str, name: str, fingerprint: str, at: datetime, keep: timedelta,
                      owner: str) -> dict[str, Any] | None:
        """Record that `owner` is answering this request, unless the key is taken: then its
        record (fingerprint, and the answer once there is one). A claim whose answer never came
        (the function died mid-request) lapses after ANSWER_LEASE_SECONDS."""
        Row = self._row()
        moment = int(at.timestamp())
        with unless_refused() as written:
            Row(f"REQUEST#{caller}", name).update(actions=[
                Row.status.set("answering"), Row.owner.set(owner),
                Row.data.set({"fingerprint": fingerprint, "answer": None}),
                Row.lease_until.set(moment + ANSWER_LEASE_SECONDS),
                Row.updated_at.set(iso(at)), Row.expires_at.set(at + keep)],
                condition=Row.pk.does_not_exist() | (Row.status == "released")
                | ((Row.status == "answering") & (Row.lease_until < moment)))
        if written.ok:
            return None
        row = self._get(f"REQUEST#{caller}", name, consistent=True)
        return dict(row.data or {}) if row is not None else {"fingerprint": fingerprint, "answer": None}

    def answer_request(self, caller: str, name: str, fingerprint: str, answer: dict[str, Any], owner: str) -> None:
        Row = self._row()
        with unless_refused():
            Row(f"REQUEST#{caller}", name).update(actions=[
                Row.status.set("answered"), Row.lease_until.remove(),
                Row.data.set({"fingerprint": fingerprint, "answer": answer})],
                condition=(Row.status == "answering") & (Row.owner == owner))

    def release_request(self, caller: str, name: str, owner: str) -> None:
        """The request failed and wrote nothing: the key may be used again (the record is marked
        released rather than deleted, which keeps DeleteItem out of the functions' policy)."""
        Row = self._row()
        with unless_refused():
            Row(f"REQUEST#{caller}", name).update(actions=[Row.status.set("released")],
                                                  condition=(Row.status == "answering") & (Row.owner == owner))


def _search_of(row: Any) -> tuple[datetime, float] | None:
    """A search record: since when it reads, and its lease (epoch seconds)."""
    since = parse_iso((row.data or {}).get("since")) if row is not None else None
    return (since, float(row.lease_until or 0)) if since is not None else None


def _token_of(row: Any) -> TokenRecord:
    data = row.data or {}
    sellers = data.get("sellers")
    return TokenRecord(row.sk, str(data.get("name", "")), str(data.get("secret_hash", "")),
                       tuple(data.get("scopes") or ()), None if sellers is None else tuple(sellers),
                       str(data.get("created_at", "")), row.last_used_at, row.revoked_at)
