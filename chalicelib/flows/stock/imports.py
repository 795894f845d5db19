"""A warehouse's stock count export, as CSV: one row per SKU (pure).

Columns are found by their header's name, in any order: `sku` and the count (`on_hand`,
`quantity` or `count`), and optionally `counted_at` (when the shelf was counted, with its zone).
`Seller SKU`, `seller-sku`, `onHand` work too; the delimiter is a comma, a semicolon or a tab.
Every problem is reported with its line and column; a file with any problem applies nothing.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.csvfile import RowProblem, cell, moment, open_rows
from chalicelib.core.fields import quote
from chalicelib.flows.stock.parsing import SKU
from chalicelib.flows.stock.rules import MAX_QUANTITY

MAX_ROWS = 2000
_COUNT_NAMES = ("on_hand", "quantity", "count")
_SKU_NAMES = ("sku", "seller_sku")


@dataclass(frozen=True)
class CountRow:
    line: int
    sku: str
    quantity: int
    counted_at: datetime | None


def parse(text: str) -> tuple[list[CountRow], list[RowProblem]]:
    reader, header, opened = open_rows(text, "it needs a header row (sku, on_hand) and one row per SKU")
    if opened is not None:
        return [], [opened]
    sku_at = next((header.index(n) for n in _SKU_NAMES if n in header), None)
    count_at = next((header.index(n) for n in _COUNT_NAMES if n in header), None)
    time_at = header.index("counted_at") if "counted_at" in header else None
    problems = []
    if sku_at is None:
        problems.append(RowProblem(1, "sku", "the header has no sku column"))
    if count_at is None:
        problems.append(RowProblem(1, "on_hand", "the header has no on_hand (or quantity) column"))
    if problems or sku_at is None or count_at is None:
        return [], problems
    rows: list[CountRow] = []
    seen: dict[str, int] = {}
    line = 1
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                problems.append(RowProblem(line, None, f"the file has more than {MAX_ROWS} rows: split it"))
                break

            sku, quantity_text, time_text = (cell(row, sku_at), cell(row, count_at), cell(row, time_at))
            problem = None
            if not SKU.fullmatch(sku):
                problem = RowProblem(line, "sku", f"{quote(sku)} is not a SKU (1 to 40 printable characters)")
            elif sku in seen:
                problem = RowProblem(line, "sku", f"{quote(sku)} is counted twice (line {seen[sku]} too)")
            elif not re.fullmatch(r"[0-9]{1,8}", quantity_text) or int(quantity_text) > MAX_QUANTITY:
                problem = RowProblem(line, header[count_at], f"{quote(quantity_text)} is not a count from 0 to "
                                                             f"{MAX_QUANTITY}")
            counted_at = moment(time_text) if time_text else None
            if problem is None and time_text and counted_at is None:
                problem = RowProblem(line, "counted_at", f"{quote(time_text)} is not a date-time with its zone, "
                                                         "e.g. 2026-11-20T14:30:00Z")
            if problem is not None:
                problems.append(problem)
                continue
            seen[sku] = line
            rows.append(CountRow(line, sku, int(quantity_text), counted_at))
    except csv.Error as error:
        problems.append(RowProblem(line + 1, None, f"this row is not CSV ({quote(str(error))})"))
    if not rows and not problems:
        problems.append(RowProblem(2, None, "the file has no rows"))
    return ([], problems[:100]) if problems else (rows, [])
