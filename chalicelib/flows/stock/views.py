"""The stock flow's HTTPS views. Every route takes `sellerId` as a query parameter, required when
the deployment serves more than one seller (the caller may see)."""
from __future__ import annotations

from typing import Any

from chalicelib.core import fields
from chalicelib.core.auth import principal, served_sellers
from chalicelib.core.errors import PermanentError
from chalicelib.core.http import BadRequest, Conflict, NotFound, one_seller, only, query, whole_number
from chalicelib.core.times import iso_seconds, now
from chalicelib.flows.stock import rules
from chalicelib.flows.stock.parsing import SKU
from chalicelib.flows.stock.rules import Balance, Entry

STATES = {"out": rules.State.OUT_OF_STOCK.value, "discontinued": rules.State.DISCONTINUED.value,
          "invalid": rules.State.INVALID.value, "in": rules.State.IN_STOCK.value,
          "reorder": "reorder", "low": "reorder", "oversold": "oversold"}


def _time(moment: Any) -> str | None:
    return iso_seconds(moment) if moment is not None else None


def entry_view(e: Entry) -> dict[str, Any]:
    return {"entryId": e.entry_id, "kind": e.kind.value, "at": _time(e.at), "onHandDelta": e.on_hand_delta,
            "reservedDelta": e.reserved_delta, "cause": dict(e.cause), "alreadyCounted": e.counted,
            "staleCount": e.stale, "oversold": e.oversold, "onHand": e.on_hand, "reserved": e.reserved,
            "available": e.available}


def stock_view(b: Balance, default_reorder: int) -> dict[str, Any]:
    pushed, reported = b.pushed, b.reported
    return {
        "sellerId": b.seller_id, "sku": b.sku, "state": rules.state_of(b).value,
        "onHand": b.on_hand, "reserved": b.reserved, "safetyBuffer": b.settings.buffer, "available": b.available,
        "oversold": b.oversold, "reorderPoint": rules.reorder_point(b, default_reorder),
        "reorderPointIsDefault": b.settings.reorder_point is None,
        "onReorderList": rules.needs_reorder(b, default_reorder), "discontinued": b.settings.discontinued,
        "managed": b.managed, "invalid": b.invalid,
        "fba": [{"marketplaceId": m, "fulfillable": f.fulfillable, "inbound": f.inbound, "reserved": f.reserved,
                 "unfulfillable": f.unfulfillable, "asOf": _time(f.at)} for m, f in sorted(b.fba.items())],
        "amazon": {
            "target": rules.target_quantity(b), "waitingPush": rules.needs_push(b),
            "lastPush": {"quantity": pushed.quantity, "at": _time(pushed.at), "via": pushed.via,
                         "status": pushed.status, "reference": pushed.reference, "message": pushed.message}
            if pushed else None,
            "reported": {"quantity": reported.quantity, "at": _time(reported.at)} if reported else None,
            "corrections": b.corrections},
        "fbaDrift": b.drift,
        "latestEntries": [entry_view(e) for e in b.latest],
    }


def _seller(request: Any, params: dict[str, str]) -> str:
    return one_seller(params, served_sellers(request))


def _sku(sku: str) -> str:
    if not SKU.fullmatch(sku or ""):
        raise BadRequest("a SKU is 1 to 40 printable characters")
    return sku


def _store() -> Any:
    from chalicelib.flows.stock import wiring

    return wiring.stock()


def get_stock(request: Any, sku: str) -> dict[str, Any]:
    params = query(request)
    only(params, {"sellerId"})
    seller_id, sku = _seller(request, params), _sku(sku)
    store = _store()
    balance = store.get(seller_id, sku)
    if balance is None:
        raise NotFound(f"no stock of SKU {sku} is recorded for seller {seller_id}")
    return stock_view(balance, store.reorder_default)


def list_stock(request: Any) -> dict[str, Any]:
    from chalicelib.core import pages

    params = query(request)
    only(params, {"sellerId", "state", "limit", "nextToken"})
    seller_id = _seller(request, params)
    state = params.get("state")
    if state is not None and state not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}")
    limit = whole_number(params, "limit", 50, 1, 100)
    bound_to = {"route": "list_stock", "seller": seller_id, "state": state}
    store = _store()
    found, last = store.page(seller_id, STATES[state] if state else None, limit,
                             pages.open_(params.get("nextToken"), bound_to))
    if state == "low":
        found = [b for b in found if rules.is_low(b, store.reorder_default)]
    elif state == "reorder":
        found = [b for b in found if rules.needs_reorder(b, store.reorder_default)]
    elif state == "oversold":
        found = [b for b in found if b.oversold > 0]
    elif state is not None:
        found = [b for b in found if rules.state_of(b).value == STATES[state]]
    return {"sellerId": seller_id, "state": state, "items": [stock_view(b, store.reorder_default) for b in found],
            "nextToken": pages.seal(last, bound_to)}


def _moment(body: dict[str, Any], name: str) -> Any:
    moment = fields.moment(body.get(name), name, error=_BadBody)
    if moment is not None and moment > now():
        raise Conflict(f"{name} is in the future")
    return moment


class _BadBody(PermanentError):
    pass


def _applied(applied: Any) -> dict[str, Any]:
    store = _store()
    entries = [entry_view(e) for e in applied.entries]
    return {"applied": applied.outcome.value != "duplicate", "entries": entries,
            "stock": stock_view(applied.balance, store.reorder_default)}


def _run(action: Any) -> dict[str, Any]:
    try:
        return _applied(action())
    except rules.Refused as refused:
        raise Conflict(refused.message) from None
    except _BadBody as bad:
        raise BadRequest(bad.reason) from None


def put_stock(request: Any, body: dict[str, Any], sku: str) -> dict[str, Any]:
    """A count: the shelf holds `quantity` (at `countedAt`, default now)."""
    from chalicelib.flows.stock import service

    params = query(request)
    only(params, {"sellerId"})
    seller_id, sku = _seller(request, params), _sku(sku)
    at = now()
    cause = {"type": "count", "by": principal(request).name, **({"note": body["note"]} if body.get("note") else {})}
    return _run(lambda: service.set_count(_store(), seller_id, sku, body["quantity"], _moment(body, "countedAt") or at,
                                          service.new_entry_id("count"), cause, at))


def post_adjustment(request: Any, body: dict[str, Any], sku: str) -> dict[str, Any]:
    from chalicelib.flows.stock import service

    params = query(request)
    only(params, {"sellerId"})
    seller_id, sku = _seller(request, params), _sku(sku)
    at = now()
    cause = {"type": "adjustment", "reason": body["reason"], "by": principal(request).name,
             **({"note": body["note"]} if body.get("note") else {})}
    return _run(lambda: service.adjust(_store(), seller_id, sku, body["quantity"], _moment(body, "at") or at,
                                       service.new_entry_id("adjustment"), cause, at))


def patch_stock(request: Any, body: dict[str, Any], sku: str) -> dict[str, Any]:
    from chalicelib.flows.stock import service

    params = query(request)
    only(params, {"sellerId"})
    seller_id, sku = _seller(request, params), _sku(sku)
    if not body:
        raise BadRequest("name at least one of safetyBuffer, reorderPoint, discontinued")
    return _run(lambda: service.configure(_store(), seller_id, sku, body, now()))


def import_stock(request: Any, body: str) -> dict[str, Any]:
    from chalicelib.flows.stock import service

    params = query(request)
    only(params, {"sellerId"})
    seller_id = _seller(request, params)
    try:
        return service.import_counts(_store(), seller_id, body, now())
    except service.ImportRefused as refused:
        problems = [p.to_dict() for p in refused.problems]
        raise BadRequest(f"{len(problems)} problem(s) in the file; nothing was applied: {problems[0]['message']}",
                         details={"rows": problems}) from None
