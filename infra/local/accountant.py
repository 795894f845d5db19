"""The demo's accountant: reads the invoices through the API, as an accounting tool would (GET
/invoices with the bearer token), sets the profile of a seller that had none (PUT
/sellers/{id}/profile; its orders waited for it), checks that every series is gapless and that
each wholly invoiced order's documents add up to what Amazon charged, and saves a few PDFs to a
folder a person can open.
"""
from __future__ import annotations

import re
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from infra.local.warehouse import call


@dataclass
class Books:
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # seller → documents
    gaps: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    matched: int = 0
    samples: list[tuple[str, Path]] = field(default_factory=list)  # (what it shows, file)

    @property
    def count(self) -> int:
        return sum(len(d) for d in self.documents.values())


def set_profiles(api: str, token: str, later: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    """PUT the profiles the scenario left for later: (seller, status, message)."""
    results = []
    for entry in later:
        status, body = call(api, token, "PUT", f"/sellers/{entry['sellerId']}/profile", entry["profile"])
        results.append((entry["sellerId"], status, body.get("message", "")))
    return results


def read_documents(api: str, token: str, seller_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    path = f"/invoices?sellerId={seller_id}&limit=100"
    while True:
        status, page = call(api, token, "GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {page.get('message')}")
        found += page["documents"]
        if not page.get("nextToken"):
            return found
        path = f"/invoices?sellerId={seller_id}&limit=100&nextToken={urllib.parse.quote(page['nextToken'])}"


def _series(number: str) -> tuple[str, int]:
    head, _, sequence = number.rpartition("-")
    return head, int(sequence)


def check(api: str, token: str, sellers: list[str], world_orders: dict[str, dict[str, Any]]) -> Books:
    """Every seller's documents, their series checked for gaps, totals against Amazon's."""
    books = Books()
    for seller_id in sellers:
        documents = read_documents(api, token, seller_id)
        books.documents[seller_id] = documents
        by_series: dict[str, list[int]] = defaultdict(list)
        for doc in documents:
            head, sequence = _series(doc["number"])
            by_series[head].append(sequence)
        for head, sequences in by_series.items():
            expected = list(range(min(sequences), min(sequences) + len(sequences)))
            if sorted(sequences) != expected:
                books.gaps.append(f"{seller_id} {head}: {sorted(sequences)}")
        by_order: dict[str, Decimal] = defaultdict(Decimal)
        for doc in documents:
            if doc["type"] == "invoice":
                by_order[doc["orderId"]] += Decimal(doc["total"])
        for order_id, invoiced in by_order.items():
            order = world_orders.get(order_id) or {}
            grand = ((order.get("proceeds") or {}).get("grandTotal") or {}).get("amount")
            if order.get("fulfillment", {}).get("fulfillmentStatus") != "SHIPPED" or grand is None:
                continue  # partly shipped: its invoices so far cover part of it
            if Decimal(grand) == invoiced:
                books.matched += 1
            else:
                books.mismatches.append(f"{order_id}: invoiced {invoiced}, Amazon charged {grand}")
    return books


def save_samples(api: str, token: str, books: Books, folder: Path) -> None:
    """A few documents a person would want to look at, as PDF files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = (("reverse charge (intra-EU business supply)", lambda d: "reverse_charge" in d["mentions"]),
              ("French consumer", lambda d: d["language"] == "fr" and not d["mentions"] and not d["source"].startswith(
                  "amazon#") and d["countryOfSupply"] == "FR" and d["number"].startswith("FA-")),
              ("German consumer", lambda d: d["language"] == "de" and not d["mentions"]),
              ("shipped by Amazon (FBA)", lambda d: d["source"].startswith("amazon#")),
              ("Italian or Spanish distance sale", lambda d: d["language"] in ("it", "es") and "oss" in d["mentions"]),
              ("several parcels: one invoice per package", lambda d: d["source"] == "package#2"),
              ("credit note", lambda d: d["type"] == "creditNote"))
    everything = [d for documents in books.documents.values() for d in documents]
    for what, fits in wanted:
        doc = next((d for d in everything if fits(d)), None)
        if doc is None:
            continue
        status, fresh = call(api, token, "GET", f"/invoices/{doc['number']}?sellerId={doc['sellerId']}")
        if status != 200 or not fresh.get("pdfUrl"):
            continue
        with urllib.request.urlopen(fresh["pdfUrl"], timeout=30) as response:  # noqa: S310 - the local S3
            body = response.read()
        name = re.sub(r"[^A-Za-z0-9-]+", "-", f"{doc['number']}-{what}").strip("-")[:80] + ".pdf"
        path = folder / name
        path.write_bytes(body)
        books.samples.append((what, path))
