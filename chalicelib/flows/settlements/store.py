"""The settlements flow's storage: the settlements table (PynamoDB) and the raw files in the
documents bucket (S3, write-once).

    pk                              sk                what
    settlement#<seller>             <settlement id>   the settlement: period, deposit, status, totals,
                                                      control total, journal, variances, its file
    paid#<seller>#<order>           <settlement id>   what Amazon paid for the order in that settlement
    report#<seller>                 <report id>       a settlement report Amazon listed or notified, and
                                                      whether it was imported (the gap ledger)
    mapping#<seller>                mapping           the seller's account mapping (journal.chart_json)
    journal#<seller>                counter           `last`: the last journal entry number posted

A settlement is claimed once: the first file for its id puts the record (unless it exists); a
second file for the same id changes nothing, unless the first was blocked by its content (a
file cut short, a bad row): then the new file replaces it. Its state moves on conditioned on
the file it was read from, so a late worker of an older file cannot overwrite a newer one. Posting
numbers the journal's entries in the seller's journal, without a gap (`post`).
Files are stored once under their SHA-256 (If-None-Match), encrypted under the data key.
"""
from __future__ import annotations

import builtins
import gzip
import hashlib
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import IO, Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import config, resources
from chalicelib.core import aws
from chalicelib.core.dynamo import models_builder, unless_refused
from chalicelib.core.errors import RetryLater
from chalicelib.core.times import iso

IMPORTED, BLOCKED, BALANCED, POSTED = "imported", "blocked", "balanced", "posted"
STATUSES = (IMPORTED, BALANCED, POSTED, BLOCKED)
_FILE_PREFIX = "settlements"


@dataclass(frozen=True)
class _SettlementModels:
    row: Any  # built at run time (the table name comes from the environment)


@models_builder
@cache
def _settlement_models() -> _SettlementModels:
    class SettlementRow(Model):
        class Meta:
            table_name = config.table_name(resources.SETTLEMENTS)

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        status = UnicodeAttribute(null=True)
        sha256 = UnicodeAttribute(null=True)
        last = NumberAttribute(null=True)  # journal#<seller>: the last entry number posted
        data = JSONAttribute(null=True)
        updated_at = UnicodeAttribute(null=True)

    return _SettlementModels(SettlementRow)


@dataclass(frozen=True)
class Claim:
    record: dict[str, Any]
    new: bool  # False: the settlement was there already (nothing changed)


class DynamoSettlements:
    """Settlements, what each order was paid, the report ledger, the account mapping."""

    # --- settlements ------------------------------------------------------------------------

    def claim(self, seller_id: str, settlement_id: str, record: dict[str, Any], now: datetime) -> Claim:
        """Put the settlement as imported, unless it is there already and not blocked by its
        content; a blocked one is replaced by another file (never by the same one)."""
        row = _settlement_models().row
        item = row(f"settlement#{seller_id}", settlement_id, status=IMPORTED, sha256=record["file"]["sha256"],
                   data={**record, "status": IMPORTED}, updated_at=iso(now))
        with unless_refused() as written:
            item.save(condition=row.pk.does_not_exist() | ((row.status == BLOCKED) &
                                                           (row.sha256 != record["file"]["sha256"])))
        if written.ok:
            return Claim({**record, "status": IMPORTED}, True)
        found = self.get(seller_id, settlement_id)
        return Claim(found or record, False)

    def get(self, seller_id: str, settlement_id: str) -> dict[str, Any] | None:
        try:
            item = _settlement_models().row.get(f"settlement#{seller_id}", settlement_id, consistent_read=True)
        except DoesNotExist:
            return None
        return dict(item.data or {})

    def settle(self, seller_id: str, settlement_id: str, sha256: str, record: dict[str, Any],
               from_statuses: tuple[str, ...], now: datetime) -> bool:
        """The settlement's new state, written only while it is still from the same file and in
        one of `from_statuses` (a posted settlement never changes)."""
        row = _settlement_models().row
        condition = (row.sha256 == sha256) & row.status.is_in(*from_statuses)
        with unless_refused() as written:
            row(f"settlement#{seller_id}", settlement_id, status=record["status"], sha256=sha256, data=record,
                updated_at=iso(now)).save(condition=condition)
        return written.ok

    def post(self, seller_id: str, settlement_id: str, sha256: str, record: dict[str, Any],
             from_statuses: tuple[str, ...], now: datetime, attempts: int = 40) -> bool:
        """`settle` a posted settlement and number its journal entries in the seller's journal,
        in one transaction: the journal's counter moves from the value read to the next ones
        (a condition on the value read), so the numbers run on without a gap or a repeat, in the
        order settlements are posted. A lost race reads the counter again."""
        row = _settlement_models().row
        counter_pk = f"journal#{seller_id}"
        for _ in range(attempts):
            try:
                last = int(row.get(counter_pk, "counter", consistent_read=True).last or 0)
                exists = True
            except DoesNotExist:
                last, exists = 0, False
            numbered = journal_numbered(record, last)
            taken = len(numbered["journal"]["entries"])
            try:
                with TransactWrite(connection=row._get_connection().connection) as transaction:
                    transaction.update(row(counter_pk, "counter"), actions=[row.last.set(last + taken)],
                                       condition=(row.last == last) if exists else row.pk.does_not_exist())
                    transaction.save(row(f"settlement#{seller_id}", settlement_id, status=numbered["status"],
                                         sha256=sha256, data=numbered, updated_at=iso(now)),
                                     condition=(row.sha256 == sha256) & row.status.is_in(*from_statuses))
            except TransactWriteError as refused:
                reasons = [getattr(r, "code", None) for r in (refused.cancellation_reasons or [])]
                if "ConditionalCheckFailed" not in reasons:
                    raise
                # Which condition failed is read back, not taken from the reasons' positions
                # (moto reports them at another place than DynamoDB does).
                found = self.get(seller_id, settlement_id)
                if found is None or found["file"]["sha256"] != sha256 or found["status"] not in from_statuses:
                    return False  # the settlement moved on meanwhile
                time.sleep(random.uniform(0, 0.02))  # another posting took these numbers: read again
                continue
            return True
        raise RetryLater(f"the journal of seller {seller_id} is busy: {attempts} attempts lost to other postings",
                         delay_seconds=5)

    def list(self, seller_id: str, limit: int = 500) -> builtins.list[dict[str, Any]]:
        """The seller's settlements, newest first (settlement ids grow with time)."""
        return [dict(item.data or {}) for item in
                _settlement_models().row.query(f"settlement#{seller_id}", scan_index_forward=False, limit=limit)]

    # --- what each order was paid ----------------------------------------------------------------

    def save_payments(self, seller_id: str, settlement_id: str, payments: Iterable[tuple[str, dict[str, Any]]],
                      now: datetime) -> int:
        """One item per order and settlement (a retry writes the same values again)."""
        row, count, at = _settlement_models().row, 0, iso(now)
        with row.batch_write() as batch:
            for order_id, paid in payments:
                batch.save(row(f"paid#{seller_id}#{order_id}", settlement_id, data=paid, updated_at=at))
                count += 1
        return count

    def payments_of(self, seller_id: str, order_id: str) -> builtins.list[dict[str, Any]]:
        return [{"settlementId": item.sk, **(item.data or {})}
                for item in _settlement_models().row.query(f"paid#{seller_id}#{order_id}", limit=50)]

    # --- the report ledger ------------------------------------------------------------------------

    def note_report(self, seller_id: str, report_id: str, facts: dict[str, Any], now: datetime) -> bool:
        """A settlement report Amazon listed or notified; True the first time."""
        row = _settlement_models().row
        with unless_refused() as written:
            row(f"report#{seller_id}", report_id, status="listed", data=facts, updated_at=iso(now)).save(
                condition=row.pk.does_not_exist())
        return written.ok

    def report_imported(self, seller_id: str, report_id: str, settlement_id: str, now: datetime) -> None:
        row = _settlement_models().row
        found = self.noted_report(seller_id, report_id) or {}
        row(f"report#{seller_id}", report_id, status="imported", data={**found, "settlementId": settlement_id},
            updated_at=iso(now)).save()

    def noted_report(self, seller_id: str, report_id: str) -> dict[str, Any] | None:
        try:
            item = _settlement_models().row.get(f"report#{seller_id}", report_id, consistent_read=True)
        except DoesNotExist:
            return None
        return {**(item.data or {}), "status": item.status, "updatedAt": item.updated_at}

    def reports(self, seller_id: str, limit: int = 500) -> builtins.list[dict[str, Any]]:
        row = _settlement_models().row
        return [{"reportId": item.sk, "status": item.status, **(item.data or {})}
                for item in row.query(f"report#{seller_id}", scan_index_forward=False, limit=limit)]

    # --- the mapping ------------------------------------------------------------------------------

    def mapping(self, seller_id: str) -> dict[str, Any] | None:
        try:
            return dict(_settlement_models().row.get(f"mapping#{seller_id}", "mapping").data or {})
        except DoesNotExist:
            return None

    def save_mapping(self, seller_id: str, mapping: dict[str, Any], now: datetime) -> None:
        _settlement_models().row(f"mapping#{seller_id}", "mapping", data=mapping, updated_at=iso(now)).save()


# ------------------------------------------------------------------------------ the raw files

def journal_numbered(record: dict[str, Any], last: int) -> dict[str, Any]:
    """The record with its journal entries numbered after `last`, in their order."""
    entries = [{**entry, "number": last + i} for i, entry in enumerate(record["journal"]["entries"], start=1)]
    return {**record, "journal": {**record["journal"], "entries": entries}}


def file_key(seller_id: str, settlement_id: str, sha256: str) -> str:
    return f"{_FILE_PREFIX}/{seller_id}/{settlement_id}/{sha256}.tsv.gz"


class SettlementFiles:
    """The files as Amazon (or a person) gave them, gzip-compressed, write-once."""

    def put(self, key: str, text_gzip: bytes, sha256: str) -> None:
        from botocore.exceptions import ClientError

        try:
            aws.client("s3").put_object(
                Bucket=config.invoice_bucket(), Key=key, Body=text_gzip, ContentType="text/tab-separated-values",
                ContentEncoding="gzip", IfNoneMatch="*", ServerSideEncryption="aws:kms",
                SSEKMSKeyId=config.data_key_id(), Metadata={"sha256": sha256})
        except ClientError as exc:  # already there: the same bytes (the key is their digest)
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise

    def lines(self, key: str) -> Iterator[str]:
        """The file's lines, decompressed as they stream from S3 (never whole in memory)."""
        import io

        body: IO[bytes] = aws.client("s3").get_object(Bucket=config.invoice_bucket(), Key=key)["Body"]
        with gzip.GzipFile(fileobj=body) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace",
                                                                  newline="") as text:
            yield from text


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
