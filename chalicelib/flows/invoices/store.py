"""The invoices flow's storage: the invoices table (PynamoDB) and the PDF archive (S3).

One table, its items told apart by their keys:

    profile#<seller>            profile      the seller's profile (JSON, as the API writes it)
    series#<seller>#<series>    counter      `last`: the last sequence number issued in the series
    document#<seller>#<number>  document     the document as issued (no personal data), its state,
                                             the buyer block sealed under a data key, the PDF's key
    order#<seller>#<order>      <source>     the claim: which document invoiced this shipment or refund
    waiting#<seller>            <order>      an order that waits for the seller's profile
    feed#<seller>#<feed id>     feed         which document an UPLOAD_VAT_INVOICE feed carried
    refunds#<seller>#<order>    <transaction> a refund Amazon posted (its credit notes claim it)

A number is allocated in one transaction that moves the series' counter from the value read to
the next (a condition on the value read), puts the document (unless it exists) and puts the
claim (unless it exists). Concurrent workers that read the same counter: one wins, the others
retry from a fresh read; a second attempt for the same shipment finds the claim and returns the
document it names. So every sequence number is used exactly once, with a document, and no
shipment or refund has two. Nothing deletes or overwrites an issued document: later writes only
set its state (render, upload), conditioned on the state they move from.

PDFs are written once (a conditional put: If-None-Match), encrypted under the data key, locked
for the seller's legal period (S3 Object Lock).
"""
from __future__ import annotations

import builtins
import hashlib
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import config, resources
from chalicelib.core import aws
from chalicelib.core.datakeys import DataKeys
from chalicelib.core.dynamo import models_builder, unless_refused
from chalicelib.core.times import iso
from chalicelib.flows.invoices.rules import Buyer, Document, Profile, document_json, document_of, profile_json


@dataclass(frozen=True)
class _InvoiceModels:
    row: Any  # built at run time (the table name comes from the environment)


@models_builder
@cache
def _invoice_models() -> _InvoiceModels:
    class BySellerIssued(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_seller_issued"
            projection = AllProjection()

        seller_id = UnicodeAttribute(hash_key=True)
        issued_key = UnicodeAttribute(range_key=True)

    class Open(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_open"
            projection = KeysOnlyProjection()

        open_seller = UnicodeAttribute(hash_key=True)
        deadline_key = UnicodeAttribute(range_key=True)

    class InvoiceRow(Model):
        class Meta:
            table_name = config.table_name(resources.INVOICES)

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        seller_id = UnicodeAttribute(null=True)
        data = JSONAttribute(null=True)
        last = NumberAttribute(null=True)  # a series' counter
        number = UnicodeAttribute(null=True)
        order_id = UnicodeAttribute(null=True)
        state = UnicodeAttribute(null=True)
        buyer = UnicodeAttribute(null=True)  # sealed
        pdf_key = UnicodeAttribute(null=True)
        pdf_sha256 = UnicodeAttribute(null=True)
        upload = JSONAttribute(null=True)  # the upload to Amazon: feed, status, Amazon's words
        upload_status = UnicodeAttribute(null=True)  # upload.py STATUSES (writes condition on it)
        issued_key = UnicodeAttribute(null=True)
        open_seller = UnicodeAttribute(null=True)  # until Amazon accepted the document (or a person closed it)
        deadline_key = UnicodeAttribute(null=True)
        updated_at = UnicodeAttribute(null=True)

        by_seller_issued = BySellerIssued()
        by_open = Open()

    return _InvoiceModels(InvoiceRow)


# --- what the flow reads back ----------------------------------------------------------------

ISSUED, RENDERED = "issued", "rendered"


@dataclass(frozen=True)
class Issued:
    """A document as stored: what was issued, and where it is on its way."""

    document: Document
    state: str  # issued (numbered, not yet drawn) | rendered (its PDF archived)
    sealed_buyer: str | None
    pdf_key: str | None = None
    pdf_sha256: str | None = None
    upload: dict[str, Any] | None = None
    deadline: str | None = None
    updated_at: str | None = None
    upload_status: str = "not sent"
    open: bool = True  # not accepted by Amazon yet (counts against its deadline)

    @property
    def number(self) -> str:
        assert self.document.number is not None
        return self.document.number


def _document_pk(seller_id: str, number: str) -> str:
    return f"document#{seller_id}#{number}"


def _of_row(row: Any) -> Issued:
    return Issued(document_of(row.data), row.state or ISSUED, row.buyer, row.pdf_key, row.pdf_sha256, row.upload,
                  (row.deadline_key or "").split("#")[0] or None, row.updated_at, row.upload_status or "not sent",
                  row.open_seller is not None)


@dataclass(frozen=True)
class Allocation:
    issued: Issued
    new: bool  # False: the source had its document already (a retry, a duplicate)
    conflicts: int  # attempts lost to a concurrent allocation in the same series


class NumberingBusy(Exception):
    """Too many concurrent allocations in one series: the task goes back to its queue."""


class DynamoInvoices:
    """Profiles, numbering, documents, claims."""

    def __init__(self, keys: DataKeys | None = None):
        self._keys = keys

    # --- the seller's profile

    def profile(self, seller_id: str) -> Profile | None:
        from chalicelib.flows.invoices.rules import parse_profile

        Row = _invoice_models().row
        try:
            row = Row.get(f"profile#{seller_id}", "profile")
        except DoesNotExist:
            return None
        return parse_profile(seller_id, row.data, row.updated_at)

    def save_profile(self, profile: Profile, now: datetime) -> None:
        Row = _invoice_models().row
        Row(f"profile#{profile.seller_id}", "profile", seller_id=profile.seller_id, data=profile_json(profile),
            updated_at=iso(now)).save()

    # --- orders waiting for a profile

    def mark_waiting(self, seller_id: str, order_id: str, now: datetime) -> None:
        Row = _invoice_models().row
        Row(f"waiting#{seller_id}", order_id, seller_id=seller_id, order_id=order_id, updated_at=iso(now)).save()

    def clear_waiting(self, seller_id: str, order_id: str) -> None:
        Row = _invoice_models().row
        with unless_refused():
            Row(f"waiting#{seller_id}", order_id).delete(condition=Row.pk.exists())

    def waiting_orders(self, seller_id: str, limit: int = 1000) -> list[str]:
        Row = _invoice_models().row
        return [row.sk for row in Row.query(f"waiting#{seller_id}", limit=limit)]

    def count_waiting(self, seller_id: str) -> int:
        return int(_invoice_models().row.count(f"waiting#{seller_id}"))

    # --- documents

    def claims(self, seller_id: str, order_id: str) -> dict[str, str]:
        """The order's documents: source → number."""
        Row = _invoice_models().row
        return {row.sk: str(row.number) for row in Row.query(f"order#{seller_id}#{order_id}", consistent_read=True)}

    def get(self, seller_id: str, number: str) -> Issued | None:
        Row = _invoice_models().row
        try:
            return _of_row(Row.get(_document_pk(seller_id, number), "document", consistent_read=True))
        except DoesNotExist:
            return None

    def documents_of(self, seller_id: str, order_id: str) -> list[Issued]:
        found = [self.get(seller_id, number) for number in self.claims(seller_id, order_id).values()]
        return sorted((f for f in found if f is not None), key=lambda i: (i.document.issue_date, i.number))

    def list(self, seller_id: str, since: date | None, limit: int,
             after: dict[str, Any] | None = None) -> tuple[list[Issued], dict[str, Any] | None]:
        Row = _invoice_models().row
        condition = Row.issued_key >= since.isoformat() if since else None
        rows = Row.by_seller_issued.query(seller_id, condition, limit=limit, last_evaluated_key=after,
                                          scan_index_forward=False)
        found = [_of_row(row) for row in rows]
        return found, rows.last_evaluated_key

    def seal_buyer(self, doc: Document, buyer: Buyer | None) -> str | None:
        if buyer is None or self._keys is None:
            return None
        plaintext = json.dumps(buyer.to_json(), separators=(",", ":"), sort_keys=True).encode()
        return self._keys.seal(plaintext, self._buyer_context(doc))

    def open_buyer(self, issued: Issued) -> Buyer | None:
        if issued.sealed_buyer is None or self._keys is None:
            return None
        return Buyer.from_json(json.loads(self._keys.open_(issued.sealed_buyer, self._buyer_context(issued.document))))

    @staticmethod
    def _buyer_context(doc: Document) -> dict[str, str]:
        return {"table": "invoices", "seller_id": doc.seller_id, "order_id": doc.order_id, "source": doc.source}

    def allocate(self, doc: Document, sealed_buyer: str | None, start: int, number_of: Any, deadline: datetime,
                 now: datetime, attempts: int = 40) -> Allocation:
        """Number `doc` in its series and record it, with its claim on the order, in one
        transaction (see the module's docstring). `number_of(sequence)` writes the number."""
        Row = _invoice_models().row
        counter_pk = f"series#{doc.seller_id}#{doc.series_id}"
        claim_pk = f"order#{doc.seller_id}#{doc.order_id}"
        conflicts = 0
        for _ in range(attempts):
            existing = self._claimed(doc)
            if existing is not None:
                return Allocation(existing, False, conflicts)
            try:
                last = int(Row.get(counter_pk, "counter", consistent_read=True).last or 0)
                counter_exists = True
            except DoesNotExist:
                last, counter_exists = start - 1, False
            number = number_of(last + 1)
            numbered = replace(doc, number=number)
            counter = Row(counter_pk, "counter", seller_id=doc.seller_id)
            document = Row(_document_pk(doc.seller_id, number), "document", seller_id=doc.seller_id,
                           data=document_json(numbered), number=number, order_id=doc.order_id, state=ISSUED,
                           buyer=sealed_buyer, issued_key=f"{doc.issue_date.isoformat()}#{number}",
                           open_seller=doc.seller_id, deadline_key=f"{iso(deadline)}#{number}", updated_at=iso(now))
            claim = Row(claim_pk, doc.source, seller_id=doc.seller_id, number=number, order_id=doc.order_id,
                        updated_at=iso(now))
            try:
                with TransactWrite(connection=Row._get_connection().connection) as transaction:
                    transaction.update(counter, actions=[Row.last.set(last + 1), Row.seller_id.set(doc.seller_id)],
                                       condition=(Row.last == last) if counter_exists else Row.pk.does_not_exist())
                    transaction.save(document, condition=Row.pk.does_not_exist())
                    transaction.save(claim, condition=Row.pk.does_not_exist())
            except TransactWriteError as refused:
                reasons = [getattr(r, "code", None) for r in (refused.cancellation_reasons or [])]
                if not reasons or not any(code == "ConditionalCheckFailed" for code in reasons):
                    raise
                conflicts += 1
                # Another worker took this number: try the next after a short random pause, so
                # that workers racing for one series spread out instead of colliding again.
                time.sleep(random.uniform(0, 0.005 * 2 ** min(conflicts, 7)))
                continue
            stored = self.get(doc.seller_id, number)
            assert stored is not None
            return Allocation(stored, True, conflicts)
        raise NumberingBusy(f"series {doc.series_id}: {attempts} attempts lost to concurrent allocations")

    def _claimed(self, doc: Document) -> Issued | None:
        Row = _invoice_models().row
        try:
            claim = Row.get(f"order#{doc.seller_id}#{doc.order_id}", doc.source, consistent_read=True)
        except DoesNotExist:
            return None
        found = self.get(doc.seller_id, str(claim.number))
        if found is None:
            raise RuntimeError(f"order {doc.order_id} {doc.source}: claimed by {claim.number}, which is not stored")
        return found

    def rendered(self, issued: Issued, pdf_key: str, sha256: str, now: datetime) -> bool:
        """The document's PDF is archived (once: only from `issued`)."""
        Row = _invoice_models().row
        with unless_refused() as written:
            Row(_document_pk(issued.document.seller_id, issued.number), "document").update(
                actions=[Row.state.set(RENDERED), Row.pdf_key.set(pdf_key), Row.pdf_sha256.set(sha256),
                         Row.updated_at.set(iso(now))],
                condition=(Row.state == ISSUED))
        return written.ok

    def set_upload(self, issued: Issued, upload: dict[str, Any], now: datetime, *, closed: bool = False) -> bool:
        """Move the document's upload on, from the status it was read with (False: another
        attempt moved it first). `closed`: Amazon has it, it no longer counts as open."""
        Row = _invoice_models().row
        actions = [Row.upload.set(upload), Row.upload_status.set(upload["status"]), Row.updated_at.set(iso(now))]
        if closed:
            actions += [Row.open_seller.remove(), Row.deadline_key.remove()]
        condition = (Row.upload_status == issued.upload_status) if issued.upload_status != "not sent" \
            else Row.upload_status.does_not_exist()
        with unless_refused() as written:
            Row(_document_pk(issued.document.seller_id, issued.number), "document").update(
                actions=actions, condition=Row.pk.exists() & condition)
        return written.ok

    def put_feed(self, seller_id: str, feed_id: str, number: str, now: datetime) -> None:
        Row = _invoice_models().row
        Row(f"feed#{seller_id}#{feed_id}", "feed", seller_id=seller_id, number=number, updated_at=iso(now)).save()

    def feed_number(self, seller_id: str, feed_id: str) -> str | None:
        Row = _invoice_models().row
        try:
            return str(Row.get(f"feed#{seller_id}#{feed_id}", "feed", consistent_read=True).number)
        except DoesNotExist:
            return None

    def save_refund(self, seller_id: str, refund: Any, now: datetime) -> bool:
        """Record a refund Amazon posted (once: the same transaction again changes nothing)."""
        from chalicelib.flows.invoices.refunds import refund_json

        Row = _invoice_models().row
        with unless_refused() as written:
            Row(f"refunds#{seller_id}#{refund.order_id}", refund.transaction_id, seller_id=seller_id,
                order_id=refund.order_id, data=refund_json(refund), updated_at=iso(now)).save(
                condition=Row.pk.does_not_exist())
        return written.ok

    def refunds_of(self, seller_id: str, order_id: str) -> builtins.list[Any]:
        from chalicelib.flows.invoices.refunds import refund_of

        Row = _invoice_models().row
        return [refund_of(row.data) for row in Row.query(f"refunds#{seller_id}#{order_id}", consistent_read=True)]

    def count_open(self, seller_id: str, late_before: datetime | None = None) -> int:
        Row = _invoice_models().row
        condition = Row.deadline_key < iso(late_before) if late_before else None
        return int(Row.by_open.count(seller_id, condition))

    def open_numbers(self, seller_id: str, limit: int = 500) -> Iterator[str]:
        Row = _invoice_models().row
        for row in Row.by_open.query(seller_id, limit=limit):
            yield row.pk.split("#", 2)[2]


def pdf_key(doc: Document) -> str:
    """The PDF's stable key: per seller and number (a number is unique per seller)."""
    kind = "credit-notes" if doc.kind.value == "credit_note" else "invoices"
    return f"{kind}/{doc.seller_id}/{doc.issue_date.year}/{doc.number}.pdf"


class ArchiveConflict(Exception):
    """Another PDF is stored under the key (a second write never overwrites the first)."""


class S3Archive:
    """Write-once PDFs, KMS-encrypted, locked for the legal period."""

    def put(self, key: str, body: bytes, retain_until: datetime) -> str:
        """Store `body` under `key` unless something is there; the same bytes already there are
        fine (a retry re-rendered the same document). Returns the SHA-256."""
        from botocore.exceptions import ClientError

        digest = hashlib.sha256(body).hexdigest()
        s3 = aws.client("s3")
        try:
            s3.put_object(Bucket=config.invoice_bucket(), Key=key, Body=body, ContentType="application/pdf",
                          IfNoneMatch="*", ServerSideEncryption="aws:kms", SSEKMSKeyId=config.data_key_id(),
                          ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=retain_until.astimezone(UTC),
                          ChecksumAlgorithm="SHA256", Metadata={"sha256": digest})
            return digest
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
        stored = s3.head_object(Bucket=config.invoice_bucket(), Key=key)
        if (stored.get("Metadata") or {}).get("sha256") != digest:
            raise ArchiveConflict(f"{key} holds another PDF; it was left as it is")
        return digest

    def get(self, key: str) -> bytes:
        return bytes(aws.client("s3").get_object(Bucket=config.invoice_bucket(), Key=key)["Body"].read())

    def url(self, key: str, seconds: int = 300) -> str:
        return str(aws.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": config.invoice_bucket(), "Key": key}, ExpiresIn=seconds))
