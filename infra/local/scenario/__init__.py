"""A deterministic demo scenario: Amazon's side of a small EU seller business, from a seed.

`build_scenario(seed)` returns three things:

- `world`: what Amazon knows. Sellers (with their fake LWA refresh tokens) and, per flow, what
  Amazon holds for them (orders, in the Orders API v2026-01-01 `Order` shape, as `getOrder` with
  every `includedData` would return it *now*). The local Amazon simulator serves it; the polling
  backstop reads it.
- `messages`: the SQS message bodies Amazon pushes (notifications in Amazon's envelope), in the
  order the queue delivers them. Delivery is at least once and unordered, so there are exact
  duplicates, late messages, some junk, a notification type we do not handle, and a few orders
  that are never notified at all.
- `expected`: the ground truth a test compares against after ingesting every message.

The story is told in parts, one module each, in this order: common.py (marketplaces, catalogue,
sellers), orders.py (the orders' lives), fulfillment.py (the web shop's orders that Amazon's
warehouses ship, MCF), invoices.py (profiles, refunds), stock.py (the warehouse's counts, Amazon's
listings and FBA stock), settlements.py (Amazon's settlement reports of the shipped orders),
messiness.py (how delivery messes them up). A flow adds
its part as a module with a `tell(story, ...)` function, called from `build_scenario`, that adds
its world keys, notifications and truths to the `Story` (never another part's keys).

Everything is stdlib and pure: the same seed and arguments give byte-identical output.

Run it: `python -m infra.local.scenario --seed 7 --orders 220 --out DIR` writes
`DIR/world.json`, `DIR/notifications.jsonl` (one message body per line) and `DIR/expected.json`.
"""
from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.local.scenario import fulfillment as fulfillment_part
from infra.local.scenario import invoices as invoices_part
from infra.local.scenario import messiness
from infra.local.scenario import orders as orders_part
from infra.local.scenario import settlements as settlements_part
from infra.local.scenario import stock as stock_part
from infra.local.scenario.common import (
    DEFAULT_MARKETPLACES,
    DEFAULT_START,
    MARKETPLACES,
    Story,
    _Ids,
    fake_uuid,
    make_sellers,
)
from infra.local.scenario.orders import OLD_TO_NEW_STATUS, render_order  # noqa: F401 - the scenario's vocabulary

__all__ = ["Scenario", "build_scenario", "write_scenario", "main", "MARKETPLACES", "OLD_TO_NEW_STATUS"]


@dataclass
class Scenario:
    world: dict
    messages: list[str]  # the SQS message bodies in delivery order (strings; malformed ones as-is)
    expected: dict


def build_scenario(
    seed: int = 7,
    orders: int = 220,
    sellers: int = 2,
    marketplaces: tuple[str, ...] = DEFAULT_MARKETPLACES,
    duplicate_rate: float = 0.08,
    shuffle_window: int = 6,
    malformed: int = 5,
    lost: int = 4,
    start: datetime | None = None,
    *,
    unhandled: int = 1,
    reorder_rate: float = 0.10,
) -> Scenario:
    """Build the world, its notifications in delivery order, and the ground truth.

    `orders` counts every order in the world, the `lost` ones (never notified) included.
    `duplicate_rate` is the share of well-formed ORDER_CHANGE messages delivered twice.
    `shuffle_window` is how many places a message may arrive late; 0 delivers in publish order.
    `reorder_rate` is the share of multi-change orders where one change overtakes the previous one.
    """
    unknown = [m for m in marketplaces if m not in MARKETPLACES]
    if unknown:
        raise ValueError(f"unknown marketplace ids {unknown}; known: {sorted(MARKETPLACES)}")
    if orders < 1 or sellers < 1 or not marketplaces:
        raise ValueError("need at least one order, one seller and one marketplace")
    if not 0 <= lost <= orders:
        raise ValueError("lost must be between 0 and orders")
    start = DEFAULT_START if start is None else (
        start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC))

    # Separate random streams, so that changing the messiness never changes the world.
    world_rng = random.Random(f"sellerops-scenario:{seed}:world")
    ids_rng = random.Random(f"sellerops-scenario:{seed}:ids")
    delivery_rng = random.Random(f"sellerops-scenario:{seed}:delivery")
    ids = _Ids(world_rng)
    the_sellers = make_sellers(sellers, [MARKETPLACES[m] for m in marketplaces], world_rng, ids)
    story = Story(seed=seed, start=start, sellers=the_sellers,
                  application_id="amzn1.sellerapps.app." + fake_uuid(ids_rng),
                  world_rng=world_rng, ids_rng=ids_rng, delivery_rng=delivery_rng, ids=ids)
    story.world["sellers"] = [{"sellerId": s.seller_id, "refreshToken": s.refresh_token,
                               "marketplaceIds": s.marketplace_ids} for s in the_sellers]
    # The deployment's SP-API application: the intake admits only its notifications.
    story.world["applicationId"] = story.application_id

    orders_part.tell(story, orders=orders, lost=lost)
    fulfillment_part.tell(story)
    invoices_part.tell(story)
    stock_part.tell(story)
    settlements_part.tell(story)

    delivered = messiness.deliver(story, duplicate_rate=duplicate_rate, shuffle_window=shuffle_window,
                                  malformed=malformed, unhandled=unhandled, reorder_rate=reorder_rate)
    story.expected["lost"] = lost
    first = ("orders", "duplicates", "malformed", "unhandled", "lost", "reordered")
    expected = {key: story.expected[key] for key in first if key in story.expected}
    expected.update({key: value for key, value in story.expected.items() if key not in expected})
    return Scenario(world=story.world, messages=[m.body for m in delivered], expected=expected)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def write_scenario(scenario: Scenario, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "world.json").write_text(json.dumps(scenario.world, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
    (out / "notifications.jsonl").write_text("".join(m + "\n" for m in scenario.messages), encoding="utf-8")
    (out / "expected.json").write_text(json.dumps(scenario.expected, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.scenario",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--orders", type=int, default=220)
    parser.add_argument("--sellers", type=int, default=2)
    parser.add_argument("--marketplaces", default=",".join(DEFAULT_MARKETPLACES),
                        help=f"comma-separated marketplace ids (known: {','.join(MARKETPLACES)})")
    parser.add_argument("--duplicate-rate", type=float, default=0.08)
    parser.add_argument("--shuffle-window", type=int, default=6)
    parser.add_argument("--malformed", type=int, default=5)
    parser.add_argument("--lost", type=int, default=4)
    parser.add_argument("--unhandled", type=int, default=1)
    parser.add_argument("--start", type=datetime.fromisoformat, default=None,
                        help="ISO 8601 start of the order window (default 2026-11-01T08:00:00+00:00)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the three files into")
    args = parser.parse_args(argv)
    scenario = build_scenario(
        seed=args.seed, orders=args.orders, sellers=args.sellers,
        marketplaces=tuple(m for m in args.marketplaces.split(",") if m),
        duplicate_rate=args.duplicate_rate, shuffle_window=args.shuffle_window,
        malformed=args.malformed, lost=args.lost, start=args.start, unhandled=args.unhandled,
    )
    write_scenario(scenario, args.out)
    counts = scenario.expected
    print(f"{len(scenario.world['orders'])} orders, {len(scenario.messages)} messages "
          f"({counts['duplicates']} duplicates, {counts['malformed']} malformed, "
          f"{counts['unhandled']} unhandled, "
          f"{counts['lost']} orders never notified, {counts['reordered']} reordered) -> {args.out}")
    return 0


