"""The stock ledger against a serial oracle: the same movements, duplicated, shuffled and applied
by racing threads, leave exactly the balances the oracle computes from the facts alone."""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.tasks import Outcome
from chalicelib.flows.stock import rules, service
from chalicelib.flows.stock.rules import Balance, Fba, ItemFact, Settings
from tests.fakes import FakeStock

SELLER = "A2EUQ1WTGCTBG2"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Move:
    """One movement as a source would send it (applying it twice must change nothing)."""

    kind: str  # count | adjust | fact | fba
    sku: str
    minute: int
    ident: str
    quantity: int = 0
    fact: ItemFact | None = None
    marketplace: str = "A1PA6795UKMFR9"

    @property
    def at(self) -> datetime:
        return T0 + timedelta(minutes=self.minute)


def apply(store: FakeStock, move: Move) -> None:
    now = T0 + timedelta(days=1)
    if move.kind == "count":
        service.set_count(store, SELLER, move.sku, move.quantity, move.at, move.ident, {"type": "count"}, now)
    elif move.kind == "adjust":
        service.adjust(store, SELLER, move.sku, move.quantity, move.at, move.ident, {"type": "adjustment"}, now)
    elif move.kind == "fact":
        assert move.fact is not None
        service.apply_fact(store, SELLER, move.fact, move.at, {"type": "test"}, now)
    else:
        fba = Fba(move.quantity, 1, 2, 0, move.at)
        service.apply(store, SELLER, move.sku, lambda b: _fba(b, move, fba), now)


def _fba(balance: Balance, move: Move, fba: Fba):
    moved, entry = rules.report_fba(balance, move.ident, move.marketplace, fba, {})
    return moved, [entry] if entry else []


def oracle(moves: list[Move]) -> dict[str, tuple[int, int, dict[str, int]]]:
    """(on hand, reserved, FBA fulfillable per marketplace) per SKU, from the facts alone."""
    found: dict[str, tuple[int, int, dict[str, int]]] = {}
    for sku in {m.sku for m in moves}:
        mine = [m for m in moves if m.sku == sku]
        counts = sorted((m for m in mine if m.kind == "count"), key=lambda m: m.minute)
        physical = [(m.minute, m.quantity) for m in mine if m.kind == "adjust"]
        items: dict[tuple[str, str], list[ItemFact]] = {}
        for m in mine:
            if m.kind == "fact" and m.fact is not None:
                items.setdefault((m.fact.order_id, m.fact.order_item_id), []).append(m.fact)
                if m.fact.shipped:
                    physical.append((m.minute, -m.fact.shipped))
        reserved = 0
        for facts in items.values():
            ordered = max(f.ordered for f in facts)
            shipped = min(ordered, max(f.shipped for f in facts))
            reserved += 0 if any(f.cancelled for f in facts) else ordered - shipped
        if counts:
            last = counts[-1]
            on_hand = last.quantity + sum(d for minute, d in physical if minute > last.minute)
        else:
            on_hand = sum(d for _, d in physical)
        fba: dict[str, int] = {}
        for m in sorted((m for m in mine if m.kind == "fba"), key=lambda m: m.minute):
            fba[m.marketplace] = m.quantity
        found[sku] = (on_hand, reserved, fba)
    return found


@st.composite
def histories(draw):
    skus = [f"SKU-{i}" for i in range(draw(st.integers(1, 3)))]
    minutes = iter(draw(st.permutations(range(600)))[:60])  # distinct times: a count's moment is its own
    moves: list[Move] = []
    for n in range(draw(st.integers(1, 25))):
        sku = draw(st.sampled_from(skus))
        kind = draw(st.sampled_from(["count", "adjust", "order", "fba"]))
        if kind == "count":
            moves.append(Move("count", sku, next(minutes), f"count.{n}", draw(st.integers(0, 50))))
        elif kind == "adjust":
            moves.append(Move("adjust", sku, next(minutes), f"adj.{n}",
                              draw(st.integers(-20, 20).filter(lambda q: q != 0))))
        elif kind == "fba":
            moves.append(Move("fba", sku, next(minutes), f"fba.{n}", draw(st.integers(0, 30)),
                              marketplace=draw(st.sampled_from(["A1PA6795UKMFR9", "A13V1IB3VIYZZH"]))))
        else:
            order, ordered = f"028-0000000-{n:07d}", draw(st.integers(1, 4))
            placed = next(minutes)
            moves.append(Move("fact", sku, placed, "", fact=ItemFact(order, "1", sku, ordered)))
            ending = draw(st.sampled_from(["open", "cancelled", "shipped"]))
            if ending == "cancelled":
                moves.append(Move("fact", sku, next(minutes), "",
                                  fact=ItemFact(order, "1", sku, ordered, cancelled=True)))
            elif ending == "shipped":
                moves.append(Move("fact", sku, next(minutes), "", fact=ItemFact(order, "1", sku, ordered, ordered)))
    return moves


def _balances(store: FakeStock) -> dict[str, tuple[int, int, dict[str, int]]]:
    return {sku: (b.on_hand, b.reserved, {m: f.fulfillable for m, f in b.fba.items()})
            for (_, sku), b in store.balances.items()}


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_duplicated_shuffled_movements_end_as_the_oracle_says(moves, rng):
    sent = moves + [rng.choice(moves) for _ in range(len(moves) // 3)]  # duplicates
    rng.shuffle(sent)
    store = FakeStock()
    for move in sent:
        apply(store, move)
    assert _balances(store) == {sku: v for sku, v in oracle(moves).items() if sku in _balances(store)}
    for balance in store.balances.values():
        assert balance.available == max(0, balance.on_hand - balance.reserved)


@settings(max_examples=25, deadline=None)
@given(histories(), st.integers(0, 2**32 - 1))
def test_racing_writers_end_as_the_oracle_says(moves, seed):
    rng = random.Random(seed)
    sent = moves * 2
    rng.shuffle(sent)
    store = FakeStock()
    store.conflicts = 3  # the first writes lose a race: the service reads again
    work = [sent[i::4] for i in range(4)]
    threads = [threading.Thread(target=lambda part=part: [apply(store, m) for m in part]) for part in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _balances(store) == {sku: v for sku, v in oracle(moves).items() if sku in _balances(store)}


def test_a_count_holds_the_movements_before_it_and_not_those_after():
    store = FakeStock()
    service.adjust(store, SELLER, "MUG", 10, T0, "a1", {}, T0)
    service.adjust(store, SELLER, "MUG", -2, T0 + timedelta(minutes=20), "a2", {}, T0)
    counted = service.set_count(store, SELLER, "MUG", 30, T0 + timedelta(minutes=10), "c1", {}, T0)
    assert counted.balance.on_hand == 28  # 30 on the shelf at 10:10, 2 left at 10:20
    late = service.adjust(store, SELLER, "MUG", 5, T0 + timedelta(minutes=5), "a3", {}, T0)
    assert late.entries[0].counted and late.balance.on_hand == 28  # already in the count
    stale = service.set_count(store, SELLER, "MUG", 99, T0 + timedelta(minutes=1), "c0", {}, T0)
    assert stale.entries[0].stale and stale.balance.on_hand == 28
    again = service.adjust(store, SELLER, "MUG", 10, T0, "a1", {}, T0)
    assert again.outcome is Outcome.DUPLICATE and again.balance.on_hand == 28


def test_the_second_order_for_the_last_unit_is_flagged_oversold():
    store = FakeStock()
    service.set_count(store, SELLER, "MUG", 1, T0, "c1", {}, T0)
    first = service.apply_fact(store, SELLER, ItemFact("028-1", "1", "MUG", 1), T0, {}, T0)
    second = service.apply_fact(store, SELLER, ItemFact("028-2", "1", "MUG", 1), T0, {}, T0)
    assert not first.entries[0].oversold and second.entries[0].oversold
    assert second.balance.oversold == 1 and second.balance.available == 0
    released = service.apply_fact(store, SELLER, ItemFact("028-2", "1", "MUG", 1, cancelled=True), T0, {}, T0)
    assert released.balance.oversold == 0 and released.entries[0].kind is rules.Kind.RELEASE


def test_states_reorder_list_and_what_amazon_gets():
    balance = Balance(SELLER, "MUG", on_hand=5, reserved=2, settings=Settings(buffer=1), managed=True)
    assert balance.available == 2 and rules.state_of(balance) is rules.State.IN_STOCK
    assert rules.needs_reorder(balance, 3) and rules.is_low(balance, 3)
    assert rules.target_quantity(balance) == 2 and rules.needs_push(balance)
    gone = rules.settle(balance, Settings(buffer=1, discontinued=True))
    assert rules.state_of(gone) is rules.State.DISCONTINUED and rules.target_quantity(gone) == 0
    assert not rules.needs_reorder(gone, 3)
    unmanaged = Balance(SELLER, "FBA-ONLY", reserved=0)
    assert rules.target_quantity(unmanaged) is None and not rules.needs_push(unmanaged)
    assert rules.state_of(Balance(SELLER, "X", on_hand=2, reserved=5)) is rules.State.OUT_OF_STOCK


def test_the_door_is_chosen_by_how_many_changed():
    assert rules.door(1) is rules.Door.PATCH
    assert rules.door(rules.PATCH_AT_MOST) is rules.Door.PATCH
    assert rules.door(rules.PATCH_AT_MOST + 1) is rules.Door.FEED
    assert rules.door(10_000) is rules.Door.FEED


def test_a_count_too_old_for_the_window_is_refused():
    store = FakeStock()
    service.adjust(store, SELLER, "MUG", 3, T0 + timedelta(days=2), "a1", {}, T0)
    try:
        service.set_count(store, SELLER, "MUG", 1, T0, "c1", {}, T0)
    except rules.Refused as refused:
        assert "older than the latest movement" in refused.message
    else:
        raise AssertionError("a count two days older than the latest movement was applied")
