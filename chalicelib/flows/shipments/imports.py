"""A warehouse system's shipment export, as CSV: one row per package line (pure).

Columns are found by their header's name, in any order, written `order_id`, `order-id`,
`Order ID` or `orderId`; the delimiter is a comma, a semicolon (spreadsheets in most of Europe)
or a tab. Rows with the same order and tracking number are one package. Every problem is
reported with its line and column, and the value quoted at most a few dozen characters.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.core.csvfile import RowProblem, moment, open_rows
from chalicelib.core.csvfile import cell as csv_cell
from chalicelib.core.fields import quote
from chalicelib.core.http import is_order_id
from chalicelib.flows.shipments.rules import ShipmentRequest

MAX_ROWS = 5000
REQUIRED = ("order_id", "quantity", "carrier_code", "tracking_number", "ship_date")
OPTIONAL = ("order_item_id", "sku", "carrier_name", "shipping_method", "ship_from_supply_source_id")
_ITEM_ID = re.compile(r"^[A-Za-z0-9-]{1,50}$")
_TRACKING = re.compile(r"^[A-Za-z0-9 ._/-]{1,60}$")


@dataclass(frozen=True)
class Package:
    order_id: str
    request: ShipmentRequest
    line: int  # its first row's line


@dataclass
class _Group:
    order_id: str
    tracking_number: str
    carrier_code: str
    ship_date: datetime
    carrier_name: str
    shipping_method: str
    ship_from: str
    line: int
    lines: list[tuple[str | None, str | None, int]] = field(default_factory=list)

    def package(self) -> Package:
        return Package(self.order_id, ShipmentRequest(
            self.carrier_code, self.tracking_number, self.ship_date, tuple(self.lines), self.carrier_name or None,
            self.shipping_method or None, self.ship_from or None), self.line)


def parse(text: str) -> tuple[list[Package], list[RowProblem]]:
    """The file's packages, or the problems that keep it from being applied (then all of them)."""
    reader, header, problem = open_rows(text, "it needs a header row and one row per package line")
    if problem is not None:
        return [], [problem]
    missing = [name for name in REQUIRED if name not in header]
    problems = [RowProblem(1, name, f"the header has no {name} column") for name in missing]
    if "order_item_id" not in header and "sku" not in header:
        problems.append(RowProblem(1, "order_item_id", "the header needs an order_item_id or a sku column"))
    if problems:
        return [], problems
    index = {name: header.index(name) for name in (*REQUIRED, *OPTIONAL) if name in header}
    groups: dict[tuple[str, str], _Group] = {}
    line = 1
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if line > MAX_ROWS + 1:
                problems.append(RowProblem(line, None, f"the file has more than {MAX_ROWS} rows: split it"))
                break
            problems += _row(row, line, index, groups)
    except csv.Error as error:
        problems.append(RowProblem(line + 1, None, f"this row is not CSV ({quote(str(error))})"))
    if not groups and not problems:
        problems.append(RowProblem(2, None, "the file has no rows"))
    if problems:
        return [], problems[:100]
    return [group.package() for group in groups.values()], []


def _row(row: list[str], line: int, index: dict[str, int],
         groups: dict[tuple[str, str], _Group]) -> list[RowProblem]:
    def cell(name: str) -> str:
        return csv_cell(row, index.get(name))

    problems: list[RowProblem] = []
    order_id, tracking, item_id, sku = cell("order_id"), cell("tracking_number"), cell("order_item_id"), cell("sku")
    if not is_order_id(order_id):
        problems.append(RowProblem(line, "order_id", f"{quote(order_id)} is not an Amazon order id"))
    if not _TRACKING.fullmatch(tracking):
        problems.append(RowProblem(line, "tracking_number", f"{quote(tracking)} is not a tracking number "
                                                            "(1 to 60 letters, digits, spaces, . _ / -)"))
    if bool(item_id) == bool(sku):
        problems.append(RowProblem(line, "order_item_id", "name the item by order_item_id or by sku, one of them"))
    elif item_id and not _ITEM_ID.fullmatch(item_id):
        problems.append(RowProblem(line, "order_item_id", f"{quote(item_id)} is not an order item id"))
    elif sku and len(sku) > 40:
        problems.append(RowProblem(line, "sku", "a SKU has at most 40 characters"))
    quantity_text = cell("quantity")
    quantity = int(quantity_text) if re.fullmatch(r"[0-9]{1,5}", quantity_text) else 0
    if not 1 <= quantity <= 10000:
        problems.append(RowProblem(line, "quantity", f"{quote(quantity_text)} is not a quantity from 1 to 10000"))
    ship_date = moment(cell("ship_date"))
    if ship_date is None:
        problems.append(RowProblem(line, "ship_date", f"{quote(cell('ship_date'))} is not a date-time with its "
                                                      "zone, e.g. 2026-11-20T14:30:00Z"))
    carrier = cell("carrier_code")
    if not 1 <= len(carrier) <= 60:
        problems.append(RowProblem(line, "carrier_code", "the carrier code is missing"))
    for name in ("carrier_name", "shipping_method", "ship_from_supply_source_id"):
        if len(cell(name)) > 60:
            problems.append(RowProblem(line, name, f"{name} has at most 60 characters"))
    if problems or ship_date is None:
        return problems
    group = groups.setdefault((order_id, tracking), _Group(
        order_id, tracking, carrier, ship_date, cell("carrier_name"), cell("shipping_method"),
        cell("ship_from_supply_source_id"), line))
    if (group.carrier_code, group.ship_date) != (carrier, ship_date):
        return [RowProblem(line, "carrier_code", f"the package {quote(tracking)} of order {order_id} has another "
                                                 f"carrier or ship date on line {group.line}")]
    group.lines.append((item_id or None, sku or None, quantity))
    return []
