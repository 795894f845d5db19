"""How delivery messes the story up: at least once and unordered. Messages arrive late by a few
places, some changes overtake the change before them, some bodies come twice, and a few messages
are junk (broken copies of real ones) or of a type no flow handles."""
from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from infra.local.scenario.common import (
    CATALOGUE,
    MARKETPLACES,
    ORDER_DAYS,
    Marketplace,
    Message,
    Seller,
    Story,
    cents,
    fake_uuid,
    iso_ms,
    quota,
    to_body,
)


def _malformed(kind: str, base: dict, rng: random.Random) -> str:
    """A broken message built from a real one (`base`), or plain junk."""
    doc = copy.deepcopy(base)
    doc["NotificationMetadata"]["NotificationId"] = fake_uuid(rng)
    change = doc["Payload"]["OrderChangeNotification"]
    if kind == "not_json":
        return "Test message sent from the SQS console"
    if kind == "truncated":
        body = to_body(doc)
        return body[: len(body) // 2]
    if kind == "no_envelope":
        # Someone pushed a hand-made message into the queue.
        return to_body({"AmazonOrderId": change["AmazonOrderId"],
                        "OrderStatus": change["Summary"]["OrderStatus"]})
    if kind == "missing_order_id":
        del change["AmazonOrderId"]
        return to_body(doc)
    if kind == "invalid_date":
        change["OrderChangeTrigger"]["TimeOfOrderChange"] = "2026-11-31T25:61:00.000Z"
        return to_body(doc)
    raise ValueError(kind)


MALFORMED_KINDS = ("not_json", "no_envelope", "missing_order_id", "invalid_date", "truncated")


def pricing_health_notification(seller: Seller, mp: Marketplace, at: datetime, application_id: str,
                                notification_id: str, rng: random.Random) -> dict:
    """A PRICING_HEALTH notification: valid, but not a type this back office handles.
    Note Amazon's own shape: camelCase keys and money as JSON numbers, unlike ORDER_CHANGE."""
    product = rng.choice(CATALOGUE)
    price = float(product.gross_price)
    reference = float(cents(product.gross_price * Decimal("0.9")))
    return {
        "notificationVersion": "1.0",
        "notificationType": "PRICING_HEALTH",
        "payloadVersion": "1.0",
        "eventTime": iso_ms(at),
        "payload": {
            "issueType": "BuyBoxDisqualification",
            "sellerId": seller.seller_id,
            "offerChangeTrigger": {"marketplaceId": mp.marketplace_id, "asin": seller.asins[product.key],
                                   "itemCondition": "new",
                                   "timeOfOfferChange": iso_ms(at - timedelta(seconds=3))},
            "merchantOffer": {"condition": "new", "fulfillmentType": "MFN",
                              "listingPrice": {"amount": price, "currencyCode": mp.currency},
                              "shipping": {"amount": 0.0, "currencyCode": mp.currency},
                              "landedPrice": {"amount": price, "currencyCode": mp.currency}},
            "summary": {
                "numberOfOffers": [{"condition": "new", "fulfillmentType": "MFN", "offerCount": 4}],
                "buyBoxEligibleOffers": [{"condition": "new", "fulfillmentType": "MFN", "offerCount": 3}],
                "buyBoxPrices": [{"condition": "new",
                                  "listingPrice": {"amount": reference, "currencyCode": mp.currency},
                                  "shipping": {"amount": 0.0, "currencyCode": mp.currency},
                                  "landedPrice": {"amount": reference, "currencyCode": mp.currency}}],
                "salesRankings": [{"productCategoryId": "kitchen_display_on_website",
                                   "rank": rng.randint(800, 40000)}],
                "referencePrice": {"competitivePriceThreshold": {"amount": reference,
                                                                 "currencyCode": mp.currency}},
            },
        },
        "notificationMetadata": {
            "applicationId": application_id,
            "subscriptionId": fake_uuid(rng),
            "publishTime": iso_ms(at + timedelta(milliseconds=410)),
            "notificationId": notification_id,
        },
    }


def _reorder(messages: list[Message], shuffle_window: int, reorder_rate: float,
             rng: random.Random) -> list[Message]:
    """Publish order, then (1) every message may arrive up to `shuffle_window` places late, and
    (2) for a share of orders, one status overtakes the status before it."""
    ordered = sorted(messages, key=lambda m: m.published)
    if shuffle_window <= 0:
        return ordered
    keys = [i + rng.uniform(0, shuffle_window) for i in range(len(ordered))]
    ordered = [m for _, m in sorted(zip(keys, ordered, strict=False), key=lambda pair: pair[0])]
    by_order: dict[str, list[Message]] = {}
    for m in ordered:
        if m.kind != "order_change":  # refunds, FBA stock: not an order's status to overtake
            continue
        assert m.order_id is not None  # an ORDER_CHANGE message is always of an order
        by_order.setdefault(m.order_id, []).append(m)
    candidates = [oid for oid, ms in by_order.items() if len(ms) > 1]
    wanted = min(len(candidates), max(1, quota(reorder_rate, len(candidates)))) if reorder_rate > 0 else 0
    for order_id in rng.sample(candidates, k=wanted):
        # cast: an ORDER_CHANGE message always has its change's time (scenario/orders.py builds them).
        life = sorted(by_order[order_id], key=lambda m: cast(datetime, m.changed_at))
        k = rng.randrange(len(life) - 1)
        earlier, later = life[k], life[k + 1]
        # Deliver the later change just before the earlier one.
        ordered.remove(later)
        ordered.insert(ordered.index(earlier), later)
    return ordered


def _insert_randomly(messages: list[Message], extra: list[Message], rng: random.Random) -> list[Message]:
    result = list(messages)
    for m in extra:
        result.insert(rng.randint(0, len(result)), m)
    return result


def _duplicate(messages: list[Message], rate: float, rng: random.Random) -> tuple[list[Message], int]:
    """At-least-once delivery: repeat some well-formed ORDER_CHANGE bodies byte for byte, a few
    places later (sometimes right after, as when a consumer times out mid-batch)."""
    candidates = [i for i, m in enumerate(messages) if m.kind == "order_change"]
    chosen = rng.sample(candidates, k=min(len(candidates), quota(rate, len(candidates))))
    keyed = [(float(i), m) for i, m in enumerate(messages)]
    keyed += [(i + rng.choice((0.5, rng.uniform(0.5, 25.0))), messages[i]) for i in sorted(chosen)]
    keyed.sort(key=lambda p: p[0])
    return [m for _, m in keyed], len(chosen)


def _reordered_orders(delivered: list[Message]) -> int:
    """How many orders saw a later change before an earlier one (first deliveries only)."""
    seen: set[str] = set()
    last: dict[str, datetime] = {}
    inverted: set[str] = set()
    for m in delivered:
        if m.kind != "order_change" or m.body in seen:
            continue
        seen.add(m.body)
        assert m.order_id is not None and m.changed_at is not None  # as every ORDER_CHANGE message has
        if m.order_id in last and m.changed_at < last[m.order_id]:
            inverted.add(m.order_id)
        last[m.order_id] = max(m.changed_at, last.get(m.order_id, m.changed_at))
    return len(inverted)




def deliver(story: Story, *, duplicate_rate: float, shuffle_window: int, malformed: int, unhandled: int,
            reorder_rate: float) -> list[Message]:
    """The story's notifications as the queue delivers them, with the junk, an unhandled type and
    the duplicates; the counts go into `story.expected`."""
    rng = story.delivery_rng
    delivered = _reorder(story.notifications, shuffle_window, reorder_rate, rng)
    junk = []
    for n in range(malformed):
        base = rng.choice(story.documents) if story.documents else None
        kind = MALFORMED_KINDS[n % len(MALFORMED_KINDS)]
        if base is None:
            junk.append(Message("not json", "malformed", story.start))
        else:
            junk.append(Message(_malformed(kind, base, story.ids_rng), "malformed", story.start))
    for _ in range(unhandled):
        seller = rng.choice(story.sellers)
        mp = MARKETPLACES[rng.choice(seller.marketplace_ids)]
        at = story.start + timedelta(seconds=rng.randint(0, ORDER_DAYS * 24 * 3600))
        doc = pricing_health_notification(seller, mp, at, story.application_id, fake_uuid(story.ids_rng), rng)
        junk.append(Message(to_body(doc), "unhandled", at))
    delivered = _insert_randomly(delivered, junk, rng)
    delivered, duplicates = _duplicate(delivered, duplicate_rate, rng)
    story.expected.update({
        "duplicates": duplicates,
        "malformed": malformed,
        "unhandled": unhandled,
        # Orders whose changes reach us out of order (a later status first): the hard case.
        "reordered": _reordered_orders(delivered),
    })
    return delivered
