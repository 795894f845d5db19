"""What every CSV a person uploads shares (pure): the delimiter guessed from the header (a comma,
a semicolon as spreadsheets in most of Europe write, or a tab), header names normalised
(`order_id`, `order-id`, `Order ID` and `orderId` are one column), moments with their zone, and
problems reported by line and column."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}


def column(name: str) -> str:
    """A header's name as the parsers look it up: snake_case, lower case."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[\s\-]+", "_", spaced).lower()


def moment(text: str) -> datetime | None:
    """An ISO 8601 date-time with its zone, in the years 2000 to 2199; None otherwise."""
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None and 2000 <= found.year <= 2199 else None


def open_rows(text: str, empty: str) -> tuple[Any, list[str], RowProblem | None]:
    """The file's row reader (positioned after the header) and its normalised header, or the
    problem with its first line (`empty` says what the file needs)."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        return None, [], RowProblem(1, None, f"the file is empty: {empty}")
    delimiter = max(",;\t", key=lines[0].count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [column(name) for name in next(reader)]
    except csv.Error:
        return None, [], RowProblem(1, None, "the header row is not CSV")
    return reader, header, None


def cell(row: list[str], at: int | None) -> str:
    return row[at].strip() if at is not None and at < len(row) else ""
