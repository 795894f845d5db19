"""What DynamoDB bills for the requests a benchmark makes: request units, not requests.

On demand, DynamoDB bills a write one write request unit (WRU) per started KB of the item, the
larger of its size before and after (a conditional write that fails still pays); a transactional
write twice that; each global secondary index the write touches its own units, on the projected
item (a changed index key is a delete and a put); a strongly consistent read one read request
unit (RRU) per started 4 KB of the item (the whole item, whatever the projection expression
asked for), an eventually consistent read half. moto answers with a constant `ConsumedCapacity`,
so the meter works it out: around each counted write it reads the item before and after
(uncounted) and applies the sizing rule DynamoDB documents (attribute names plus values).
"""
from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalicelib.resources import TABLES

_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
_READS = ("GetItem", "Query", "Scan", "BatchGetItem")


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size in bytes as DynamoDB counts it (low-level attribute values)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in (item or {}).items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return _number_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def _number_size(text: str) -> int:
    digits = Decimal(text).as_tuple().digits
    return 1 + math.ceil(len(digits) / 2)


def _units(size: int, per: int) -> int:
    return max(1, math.ceil(size / per))


class CapacityMeter:
    """Request units per table (and per table's indexes), for the calls `counting` lets through."""

    def __init__(self) -> None:
        self.wru: Counter[str] = Counter()  # table, or "table index"
        self.rru_by_table: Counter[str] = Counter()
        self._specs = {t.suffix: t for t in TABLES}
        self._tables: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- sizing ---------------------------------------------------------------------------

    def _spec(self, table: str) -> Any:
        """The table's declaration (chalicelib/resources.py), by its deployed name's suffix."""
        if table not in self._tables:
            self._tables[table] = next(spec for suffix, spec in sorted(self._specs.items(), key=lambda kv: -len(kv[0]))
                                       if table.endswith(f"-{suffix}"))
        return self._tables[table]

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        spec = self._spec(table)
        return {k: item[k] for k in (spec.hash_key, spec.range_key) if k}

    def _projected(self, table: str, index: Any, item: dict[str, Any] | None) -> dict[str, Any] | None:
        spec = self._spec(table)
        if item is None or index.hash_key not in item or (index.range_key and index.range_key not in item):
            return None  # not in the (sparse) index
        if index.projection == "ALL":
            return item
        keep = {k for k in (spec.hash_key, spec.range_key, index.hash_key, index.range_key) if k}
        if index.projection == "INCLUDE":
            keep |= set(index.included)
        return {k: v for k, v in item.items() if k in keep}

    def write(self, table: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
              transactional: bool) -> None:
        units = _units(max(item_size(before), item_size(after)), 1024) * (2 if transactional else 1)
        with self._lock:
            self.wru[table] += units
            if before == after:
                return  # refused by its condition (or nothing changed): the indexes are not touched
            for index in self._spec(table).indexes:
                old, new = self._projected(table, index, before), self._projected(table, index, after)
                if old == new:
                    continue
                same_key = old is not None and new is not None and all(
                    old.get(k) == new.get(k) for k in (index.hash_key, index.range_key) if k)
                units = 0
                if same_key:
                    units = _units(max(item_size(old), item_size(new)), 1024)
                else:
                    units = (_units(item_size(old), 1024) if old is not None else 0) \
                        + (_units(item_size(new), 1024) if new is not None else 0)
                self.wru[f"{table} {index.name}"] += units

    def read(self, table: str, items: list[dict[str, Any] | None], consistent: bool, per_item: bool) -> None:
        factor = 1.0 if consistent else 0.5
        if per_item:
            units = sum(_units(item_size(i), 4096) for i in items) or 1
        else:  # a query or scan: the items' sizes added up, then rounded to 4 KB
            units = _units(sum(item_size(i) for i in items), 4096)
        with self._lock:
            self.rru_by_table[table] += units * factor  # type: ignore[assignment]

    # --- wrapping botocore ------------------------------------------------------------------

    def around(self, call: Callable[[Any, str, dict[str, Any]], Any], client: Any, operation: str,
               params: dict[str, Any]) -> Any:
        """Make the call and meter it (`call` is botocore's own, uncounted)."""
        def fetch(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
            item: dict[str, Any] | None = call(client, "GetItem", {"TableName": table, "Key": key,
                                                                 "ConsistentRead": True}).get("Item")
            return item

        if operation in _WRITES:
            table = params["TableName"]
            key = params.get("Key") or self._key(table, params["Item"])
            before = fetch(table, key)
            try:
                return call(client, operation, params)
            finally:
                self.write(table, before, fetch(table, key), transactional=False)
        if operation == "TransactWriteItems":
            entries = []
            for entry in params.get("TransactItems", []):
                (kind, body), = entry.items()
                key = body.get("Key") or self._key(body["TableName"], body["Item"])
                entries.append((body["TableName"], key, fetch(body["TableName"], key)))
            try:
                return call(client, operation, params)
            finally:
                for table, key, before in entries:
                    self.write(table, before, fetch(table, key), transactional=True)
        answer = call(client, operation, params)
        if operation == "GetItem":
            self.read(params["TableName"], [answer.get("Item")], bool(params.get("ConsistentRead")), per_item=True)
        elif operation in ("Query", "Scan"):
            consistent = bool(params.get("ConsistentRead")) and not params.get("IndexName")
            items = answer.get("Items") or []
            if params.get("IndexName") is None and params.get("ProjectionExpression"):
                # A projection does not lower the bill: the whole items are read.
                items = [fetch(params["TableName"], self._key(params["TableName"], i)) for i in items]
            self.read(params["TableName"], items, consistent, per_item=False)
        elif operation == "BatchGetItem":
            for table, found in (answer.get("Responses") or {}).items():
                consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
                items = [fetch(table, self._key(table, i)) for i in found]
                self.read(table, items, consistent, per_item=True)
        return answer

    @property
    def write_units(self) -> int:
        return sum(self.wru.values())

    @property
    def read_units(self) -> float:
        return sum(self.rru_by_table.values())
