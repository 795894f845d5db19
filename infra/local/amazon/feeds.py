"""The Feeds API 2021-06-30 for `UPLOAD_VAT_INVOICE` and `JSON_LISTINGS_FEED` (the stock flow's
bulk quantities: `_process_listings`): createFeedDocument (an upload URL on the
simulator), the PUT of the PDF, createFeed with its feedOptions, getFeed, getFeeds, cancelFeed,
getFeedDocument (the processing report, gzip-compressed as Amazon often serves it), and the
FEED_PROCESSING_FINISHED notification Amazon pushes when a feed is done.

A feed is processed a second after it was created (on the simulator's clock thread). The
processing report is Amazon's text format:

    Feed Processing Summary:
    \tNumber of records processed\t\t1
    \tNumber of records successful\t\t0

    original-record-number\tsku\terror-code\terror-type\terror-message
    1\t\t79513\tError\tPlease provide metadata:invoicenumber

What Amazon checks, as its VCS documentation lists the errors (codes as documented):
79523 not exactly one supported marketplace; 79513 missing metadata (OrderId or ShippingId,
InvoiceNumber, TotalAmount, TotalVATAmount, DocumentType; TransactionId for a credit note);
79531 a DocumentType other than Invoice or CreditNote; 79503 a document that is not a PDF;
79517 an order that does not exist, is not the seller's or has not shipped; 79525 a marketplace
where Amazon's VAT Calculation Service issues the seller's invoices (the world's
`sellers[].vcsEnrolled`). Amazon documents that a TotalAmount that differs from its own total
for the shipment, to two decimals, fails the upload, without giving the code: the simulator
answers 79532 (`TotalAmountMismatch`), a code of its own.

feedOptions keys are read case-insensitively, with or without their `metadata:` prefix.
"""
from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from infra.local.amazon.core import Api, Caller, InvalidInput, Reply, errors, format_time, one, parse_time

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "feeds_2021-06-30.json"
VAT_FEED = "UPLOAD_VAT_INVOICE"
LISTINGS_FEED = "JSON_LISTINGS_FEED"
LISTINGS_SCHEMA = "listings-feed-schema-v2.json"
# Where Amazon takes invoice uploads (its documentation's list).
UPLOAD_MARKETPLACES = frozenset({"A1RKKUPIHCS9HS", "A1F83G8C2ARO7P", "A13V1IB3VIYZZH", "A1PA6795UKMFR9",
                                 "APJ6JRA9NG5V4", "A1805IZSGTT6HS", "A1C3SOZRARQ6R3", "A2NODRKZP88ZB9"})
PROCESSING_DELAY = timedelta(seconds=1)
DOCUMENTS_PATH = "/_documents/"


@dataclass
class Document:
    document_id: str
    seller_id: str | None
    content_type: str
    body: bytes | None = None  # None until uploaded
    compressed: bool = False


@dataclass
class Feed:
    feed_id: str
    seller_id: str | None
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    options: dict[str, str]
    created: datetime
    status: str = "IN_QUEUE"
    started: datetime | None = None
    done: datetime | None = None
    result_document_id: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)  # what the report says (the view)


def _option(options: Mapping[str, str], name: str) -> str | None:
    for key, value in options.items():
        if key.lower().removeprefix("metadata:") == name:
            return str(value) if value is not None else None
    return None


def _amount(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text is not None else None
    except InvalidOperation:
        return None


def report_text(processed: int, problems: list[tuple[str, str]]) -> str:
    lines = ["Feed Processing Summary:", f"\tNumber of records processed\t\t{processed}",
             f"\tNumber of records successful\t\t{processed - (1 if problems else 0)}", ""]
    if problems:
        lines.append("original-record-number\tsku\terror-code\terror-type\terror-message")
        lines += [f"1\t\t{code}\tError\t{message}" for code, message in problems]
    return "\n".join(lines) + "\n"


def _moment(value: Any) -> datetime:
    """A date-time parameter (already parsed by the model's format, or still text)."""
    return value if isinstance(value, datetime) else parse_time(str(value))


class FeedsApi(Api):
    name = "feeds"
    models = (MODEL,)

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.documents: dict[str, Document] = {}
        self.feeds: dict[str, Feed] = {}
        self.vcs: dict[str, set[str]] = {}  # seller → marketplaces where Amazon issues the invoices
        self.accepted: dict[str, list[Decimal]] = {}  # order → invoice totals Amazon took
        self._ids = itertools.count(50_000_001_000)
        self.skew = timedelta(0)

    def load_world(self, world: Mapping[str, Any]) -> None:
        self.vcs = {s["sellerId"]: set(s.get("vcsEnrolled") or []) for s in world.get("sellers") or []
                    if s.get("sellerId")}

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {"createFeedDocument": self._create_document, "createFeed": self._create_feed,
                "getFeed": self._get_feed, "getFeeds": self._get_feeds, "cancelFeed": self._cancel_feed,
                "getFeedDocument": self._get_document}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"feeds": self._view}

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.skew

    # --- documents (the presigned URLs: raw bytes, outside the SP-API routes) -------------------

    def document_url(self, document_id: str) -> str:
        return f"{self.simulator.url}{DOCUMENTS_PATH}{document_id}"

    def raw(self, method: str, path: str, body: bytes, content_type: str | None) -> tuple[int, bytes, str]:
        """PUT (upload) or GET (download) of a document at its URL: (status, body, content type)."""
        document = self.documents.get(path.removeprefix(DOCUMENTS_PATH))
        if document is None:
            return 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml"
        if method == "PUT":
            if document.compressed:  # a processing report: Amazon's, read-only
                return 403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml"
            media_type = document.content_type.split(";")[0].strip().lower()
            if (content_type or "").split(";")[0].strip().lower() != media_type:
                return 403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>The Content-Type is not the " \
                            b"one the URL was made for</Message></Error>", "application/xml"
            document.body = body
            return 200, b"", "text/plain"
        if method == "GET" and document.body is not None:
            return 200, document.body, document.content_type
        return 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml"

    def _create_document(self, caller: Caller, params: dict[str, Any]) -> Reply:
        content_type = str(params["body"]["contentType"])
        document_id = f"amzn1.tortuga.4.eu.{next(self._ids):x}.T{len(self.documents) + 1:06d}"
        self.documents[document_id] = Document(document_id, caller.seller_id, content_type)
        return Reply(201, {"feedDocumentId": document_id, "url": self.document_url(document_id)},
                     "createFeedDocument")

    def _get_document(self, caller: Caller, params: dict[str, Any]) -> Reply:
        document = self.documents.get(params["feedDocumentId"])
        if document is None or (document.seller_id and not caller.may_see(document.seller_id)):
            return Reply(404, errors("NotFound", "The feed document was not found."), "getFeedDocument")
        body: dict[str, Any] = {"feedDocumentId": document.document_id, "url": self.document_url(document.document_id)}
        if document.compressed:
            body["compressionAlgorithm"] = "GZIP"
        return Reply(200, body, "getFeedDocument")

    # --- feeds --------------------------------------------------------------------------------------

    def _create_feed(self, caller: Caller, params: dict[str, Any]) -> Reply:
        body = params["body"]
        document = self.documents.get(str(body["inputFeedDocumentId"]))
        if document is None or (document.seller_id and document.seller_id != caller.seller_id):
            raise InvalidInput(f"The input feed document {body['inputFeedDocumentId']} was not found.")
        if body["feedType"] not in (VAT_FEED, LISTINGS_FEED):
            raise InvalidInput(f"The simulator processes {VAT_FEED} and {LISTINGS_FEED} feeds only, not "
                               f"{body['feedType']}.")
        options = {str(k): str(v) for k, v in (body.get("feedOptions") or {}).items()}
        feed = Feed(str(next(self._ids)), caller.seller_id, body["feedType"], list(body["marketplaceIds"]),
                    document.document_id, options, self.now())
        self.feeds[feed.feed_id] = feed
        return Reply(202, {"feedId": feed.feed_id}, "createFeed")

    def _feed_json(self, feed: Feed) -> dict[str, Any]:
        out: dict[str, Any] = {"feedId": feed.feed_id, "feedType": feed.feed_type,
                               "marketplaceIds": feed.marketplace_ids, "createdTime": format_time(feed.created),
                               "processingStatus": feed.status}
        if feed.started:
            out["processingStartTime"] = format_time(feed.started)
        if feed.done:
            out["processingEndTime"] = format_time(feed.done)
        if feed.result_document_id:
            out["resultFeedDocumentId"] = feed.result_document_id
        return out

    def _found(self, caller: Caller, feed_id: str) -> Feed | None:
        feed = self.feeds.get(feed_id)
        return feed if feed is not None and (feed.seller_id is None or caller.may_see(feed.seller_id)) else None

    def _get_feed(self, caller: Caller, params: dict[str, Any]) -> Reply:
        feed = self._found(caller, params["feedId"])
        if feed is None:
            return Reply(404, errors("NotFound", f"Feed {params['feedId']} was not found."), "getFeed")
        return Reply(200, self._feed_json(feed), "getFeed")

    def _get_feeds(self, caller: Caller, params: dict[str, Any]) -> Reply:
        token = params.get("nextToken")
        start = int(token) if token and str(token).isdigit() else 0
        types = set(params.get("feedTypes") or [])
        statuses = set(params.get("processingStatuses") or [])
        since = _moment(params["createdSince"]) if params.get("createdSince") else self.now() - timedelta(days=90)
        until = _moment(params["createdUntil"]) if params.get("createdUntil") else self.now()
        if not token and not types:
            raise InvalidInput("feedTypes is required unless nextToken is given.")
        found = [f for f in sorted(self.feeds.values(), key=lambda f: (f.created, f.feed_id), reverse=True)
                 if (f.seller_id is None or caller.may_see(f.seller_id)) and (not types or f.feed_type in types)
                 and (not statuses or f.status in statuses) and since <= f.created <= until]
        size = int(params.get("pageSize") or 10)
        page = found[start:start + size]
        body: dict[str, Any] = {"feeds": [self._feed_json(f) for f in page]}
        if start + size < len(found):
            body["nextToken"] = str(start + size)
        return Reply(200, body, "getFeeds")

    def _cancel_feed(self, caller: Caller, params: dict[str, Any]) -> Reply:
        feed = self._found(caller, params["feedId"])
        if feed is None:
            return Reply(404, errors("NotFound", f"Feed {params['feedId']} was not found."), "cancelFeed")
        if feed.status != "IN_QUEUE":
            raise InvalidInput(f"Feed {feed.feed_id} is {feed.status} and can no longer be cancelled.")
        feed.status, feed.done = "CANCELLED", self.now()
        self._push(feed)
        return Reply(200, {}, "cancelFeed")

    # --- processing ---------------------------------------------------------------------------------

    def tick(self) -> None:
        with self.simulator.lock:
            moment = self.now()
            for feed in self.feeds.values():
                if feed.status == "IN_QUEUE" and moment - feed.created >= PROCESSING_DELAY:
                    self._process(feed, moment)

    def _problems(self, feed: Feed) -> list[tuple[str, str]]:
        options, seller = feed.options, feed.seller_id or ""
        order_id, shipping_id = _option(options, "orderid"), _option(options, "shippingid")
        number = _option(options, "invoicenumber")
        if len(feed.marketplace_ids) != 1 or feed.marketplace_ids[0] not in UPLOAD_MARKETPLACES:
            return [("79523", "Please provide only one valid marketplace while uploading an invoice.")]
        marketplace = feed.marketplace_ids[0]
        kind = _option(options, "documenttype")
        missing = [name for name, value in (("metadata:orderid", order_id or shipping_id),
                                            ("metadata:invoicenumber", number),
                                            ("metadata:totalamount", _option(options, "totalamount")),
                                            ("metadata:totalvatamount", _option(options, "totalvatamount")),
                                            ("metadata:documenttype", kind)) if not value]
        if kind == "CreditNote" and not _option(options, "transactionid"):
            missing.append("metadata:transactionid")
        if missing:
            return [("79513", f"Please provide {','.join(missing)}")]
        if kind not in ("Invoice", "CreditNote"):
            return [("79531", f"The document type {kind} is not supported")]
        body = self.documents[feed.input_document_id].body
        where = f"shipmentId {shipping_id or 'N/A'}, orderId {order_id or 'N/A'} and InvoiceNumber {number}"
        if not body:
            return [("79540" if kind == "Invoice" else "79544",
                     f"Invoice missing in feed submission. Please provide an invoice for {where}")]
        if not body.startswith(b"%PDF"):
            return [("79503", f"Invoice uploaded is not pdf for {where}")]
        if marketplace in self.vcs.get(seller, set()):
            return [("79525", f"Amazon will generate invoice for shipmentId {shipping_id or 'N/A'}, "
                              f"orderId {order_id or 'N/A'}")]
        order = self.simulator.orders.order_of(seller, order_id or "")
        status = ((order or {}).get("fulfillment") or {}).get("fulfillmentStatus")
        if order is None or status not in ("SHIPPED", "PARTIALLY_SHIPPED"):
            return [("79517", f"The order id {order_id} does not exist, is not yours or has not shipped yet")]
        total = _amount(_option(options, "totalamount"))
        grand = _amount(((order.get("proceeds") or {}).get("grandTotal") or {}).get("amount"))
        if kind == "Invoice" and total is not None and grand is not None:
            taken = sum(self.accepted.get(order_id or "", []), Decimal(0))
            whole = status == "SHIPPED" and not taken and len(order.get("packages") or []) <= 1
            if (whole and total != grand) or (not whole and total + taken > grand):
                return [("79532", f"TotalAmountMismatch: TotalAmount {total} does not match Amazon's total "
                                  f"{grand - taken} for orderId {order_id}")]
        return []

    def _process_listings(self, feed: Feed, moment: datetime) -> None:
        """A JSON_LISTINGS_FEED: each message applied as its own patch would be (listings.py), and
        a JSON processing report (listings-feed-processing-report-schema-v2), gzip-compressed."""
        from jsonschema import Draft7Validator

        from infra.local.amazon.core import load_model
        from infra.local.amazon.listings import patch_problems

        body = self.documents[feed.input_document_id].body or b""
        issues: list[dict[str, Any]] = []
        accepted = processed = 0
        try:
            document = json.loads(body)
            problem = next(iter(Draft7Validator(load_model(LISTINGS_SCHEMA)).iter_errors(document)), None)
        except ValueError:
            document, problem = None, "the document is not JSON"
        seller = feed.seller_id or ""
        if problem is not None or not isinstance(document, dict):
            status = "FATAL"
            issues.append({"messageId": 0, "code": "FATAL", "severity": "ERROR",
                           "message": f"The feed does not follow the listings feed schema: "
                                      f"{getattr(problem, 'message', problem)}"[:300]})
        else:
            status = "DONE"
            for message in document["messages"]:
                processed += 1
                number, sku = message.get("messageId"), str(message.get("sku"))
                if message.get("operationType") != "PATCH":
                    found = [{"code": "90000900", "message": "The simulator applies PATCH messages only."}]
                    quantity = None
                else:
                    listing = self.simulator.listings.listings.get((seller, sku))
                    found, quantity = patch_problems(seller, listing, feed.marketplace_ids,
                                                     list(message.get("patches") or []))
                if found:
                    issues += [{"messageId": number, "sku": sku, "code": i["code"], "severity": "ERROR",
                                "message": i["message"]} for i in found]
                    continue
                accepted += 1
                if quantity is not None:
                    self.simulator.listings.set_quantity(seller, sku, quantity)
        report_body = {"header": {"sellerId": seller, "version": "2.0", "feedId": feed.feed_id},
                       "issues": issues,
                       "summary": {"errors": len(issues), "warnings": 0, "messagesProcessed": processed,
                                   "messagesAccepted": accepted, "messagesInvalid": processed - accepted}}
        report = Document(f"amzn1.tortuga.4.eu.{next(self._ids):x}.R{len(self.documents) + 1:06d}", feed.seller_id,
                          "application/json", gzip.compress(json.dumps(report_body).encode(), mtime=0),
                          compressed=True)
        self.documents[report.document_id] = report
        feed.started, feed.done, feed.status, feed.result_document_id = moment, moment, status, report.document_id
        feed.outcome = {"accepted": accepted, "invalid": processed - accepted, "errors": issues[:50]}
        self._push(feed)

    def _process(self, feed: Feed, moment: datetime) -> None:
        if feed.feed_type == LISTINGS_FEED:
            self._process_listings(feed, moment)
            return
        problems = self._problems(feed)
        feed.started, feed.done, feed.status = moment, moment, "DONE"
        report = Document(f"amzn1.tortuga.4.eu.{next(self._ids):x}.R{len(self.documents) + 1:06d}", feed.seller_id,
                          "text/tab-separated-values; charset=UTF-8",
                          gzip.compress(report_text(1, problems).encode(), mtime=0), compressed=True)
        self.documents[report.document_id] = report
        feed.result_document_id = report.document_id
        accepted = not problems
        order_id = _option(feed.options, "orderid") or ""
        if accepted and _option(feed.options, "documenttype") == "Invoice":
            self.accepted.setdefault(order_id, []).append(_amount(_option(feed.options, "totalamount"))
                                                          or Decimal(0))
        feed.outcome = {"accepted": accepted, "errors": [{"code": c, "message": m} for c, m in problems]}
        self._push(feed)

    def _push(self, feed: Feed) -> None:
        body: dict[str, Any] = {"sellerId": feed.seller_id, "accountId": f"amzn1.merchant.o.{feed.seller_id}",
                                "feedId": feed.feed_id, "feedType": feed.feed_type,
                                "processingStatus": feed.status}
        if feed.result_document_id:
            body["resultFeedDocumentId"] = feed.result_document_id
        if feed.seller_id:
            self.simulator.notifications.push(feed.seller_id, "FEED_PROCESSING_FINISHED",
                                              {"feedProcessingFinishedNotification": body})

    # --- the view -------------------------------------------------------------------------------------

    def _view(self, query: Mapping[str, list[str]]) -> Any:
        """The feeds Amazon received, their options and what their report says (?sellerId=)."""
        seller_id = one(query, "sellerId")
        with self.simulator.lock:
            return {"feeds": [{**self._feed_json(f), "sellerId": f.seller_id, "feedOptions": dict(f.options),
                               **f.outcome} for f in sorted(self.feeds.values(), key=lambda f: f.feed_id)
                              if seller_id in (None, f.seller_id)]}
