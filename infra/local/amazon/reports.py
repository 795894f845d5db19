"""The Reports API 2021-06-30 for the settlements flow: getReports, getReport, getReportDocument
(the document gzip-compressed at a presigned URL, as Amazon serves it), createReport,
cancelReport, and the REPORT_PROCESSING_FINISHED notification Amazon pushes when a report is done.

Amazon writes settlement reports (`GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`) by itself, one
per payout period, and refuses to take requests for them; a seller finds them with getReports.
The simulator generates no report of its own: it holds the world's `reports` and those Amazon
"writes" while it runs (`add_report`, called by tests and the scenario runtime). A world's
`reports` are `[{"sellerId", "reportId", "reportType", "createdTime", "document": <the report's
text>}]`, optionally with `marketplaceIds`: DONE reports, processed the moment they were created.
A settlement report's data period is read from its totals row (`settlement-start-date`,
`settlement-end-date`); any other report's is its creation time.

World reports are not notified when loaded: they are what a backstop getReports must find.
`publish_world_reports()` pushes REPORT_PROCESSING_FINISHED for every report not announced yet.

Amazon keeps reports 90 days: getReports and getReport do not show older ones, nor a world report
whose createdTime is still to come (Amazon has not written it yet). A getReports
nextToken carries the filters of the first page and must be the only parameter of the next
calls, as the model says. A report that names no marketplace matches any marketplace filter.
The presigned URL expires after 5 minutes (403 AccessDenied, as S3 answers); with
`enableContentEncodingUrlHeader=true` it answers with `Content-Encoding: gzip`.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote

from infra.local.amazon.core import Api, Caller, InvalidInput, Reply, errors, format_time, one, parse_time

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "reports_2021-06-30.json"
SETTLEMENT_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
RETENTION = timedelta(days=90)
URL_LIFETIME = 300  # seconds: a report document's presigned URL expires after 5 minutes
REPORT_DOCUMENTS_PATH = "/_reports/"
CONTENT_TYPE = "text/plain; charset=UTF-8"
_FILTERS = ("reportTypes", "processingStatuses", "marketplaceIds", "pageSize", "createdSince", "createdUntil")
_MOMENT = re.compile(r"(?:(\d{4})-(\d{2})-(\d{2})|(\d{2})\.(\d{2})\.(\d{4}))"
                     r"(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")


@dataclass
class Report:
    seller_id: str
    report_id: str
    report_type: str
    created: datetime
    document: bytes  # gzip-compressed, as Amazon stores it
    size: int  # bytes of the text before compression
    marketplace_ids: list[str]
    data_start: datetime
    data_end: datetime
    status: str = "DONE"
    announced: bool = False  # REPORT_PROCESSING_FINISHED pushed

    @property
    def document_id(self) -> str:
        return document_id_of(self.report_id)


def document_id_of(report_id: str) -> str:
    """The report document's id (one document per report)."""
    return f"amzn1.spdoc.1.4.eu.{report_id}.T1"


def settlement_period(text: str) -> tuple[datetime, datetime] | None:
    """A settlement report's period from its totals row (the first after the header), columns
    found by header name; None when the file does not say."""
    lines = text.splitlines()
    if len(lines) < 2:
        return None
    names = [re.sub(r"[\s_]+", "-", name.strip().lstrip("\ufeff").lower()) for name in lines[0].split("\t")]
    cells = lines[1].split("\t")
    found = []
    for name in ("settlement-start-date", "settlement-end-date"):
        at = names.index(name) if name in names else None
        moment = _moment_of(cells[at]) if at is not None and at < len(cells) else None
        if moment is None:
            return None
        found.append(moment)
    return found[0], found[1]


def _moment_of(text: str) -> datetime | None:
    """"2026-11-20 18:03:49 UTC", "20.11.2026 18:03:49 UTC" or ISO 8601, in UTC."""
    found = _MOMENT.match(text.strip())
    if found is None:
        return None
    g = found.groups()
    year, month, day = (g[0], g[1], g[2]) if g[0] else (g[5], g[4], g[3])
    try:
        return datetime(int(year), int(month), int(day), int(g[6] or 0), int(g[7] or 0), int(g[8] or 0), tzinfo=UTC)
    except ValueError:
        return None


def _moment(value: Any) -> datetime:
    """A date-time parameter (already parsed by the model's format, or still text)."""
    return value if isinstance(value, datetime) else parse_time(str(value))


class ReportsApi(Api):
    name = "reports"
    models = (MODEL,)

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.reports: dict[tuple[str, str], Report] = {}  # (seller, report id) → report
        self._ids = itertools.count(60_000_000_001)

    def load_world(self, world: Mapping[str, Any]) -> None:
        found: dict[tuple[str, str], Report] = {}
        for index, entry in enumerate(world.get("reports") or []):
            needed = ("sellerId", "reportId", "reportType", "createdTime", "document")
            if not isinstance(entry, Mapping) or any(not isinstance(entry.get(k), str) for k in needed):
                raise ValueError(f"reports[{index}]: {', '.join(needed)} are needed, as text")
            try:
                created = parse_time(entry["createdTime"])
            except ValueError:
                raise ValueError(f"reports[{index}]: createdTime {entry['createdTime']!r} is not ISO 8601") from None
            report = self._report(entry["sellerId"], entry["reportId"], entry["reportType"], entry["document"],
                                  created, entry.get("marketplaceIds"))
            if (report.seller_id, report.report_id) in found:
                raise ValueError(f"reports[{index}]: report {report.report_id} of {report.seller_id} is there twice")
            found[(report.seller_id, report.report_id)] = report
        self.reports = found

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {"getReports": self._get_reports, "getReport": self._get_report,
                "getReportDocument": self._get_document, "createReport": self._create_report,
                "cancelReport": self._cancel_report}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"reports": self._view}

    # --- what tests and the runtime do ----------------------------------------------------------

    def add_report(self, seller_id: str, report_type: str, text: str, created: datetime | None = None,
                   marketplace_ids: list[str] | None = None, notify: bool = True) -> str:
        """Amazon writes a report now (or wrote it at `created`, in the past), DONE: listed from
        now on, and pushed as REPORT_PROCESSING_FINISHED when `notify`. Returns its reportId."""
        with self.simulator.lock:
            report_id = str(next(self._ids))
            while any(r == report_id for _, r in self.reports):
                report_id = str(next(self._ids))
            moment = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
            report = self._report(seller_id, report_id, report_type, text, moment, marketplace_ids)
            self.reports[(seller_id, report_id)] = report
        if notify:
            self._push(report)
        return report_id

    def publish_world_reports(self, seller_id: str | None = None) -> int:
        """Push REPORT_PROCESSING_FINISHED for every report Amazon still keeps and has not
        announced yet (the world's, and those added without `notify`); returns how many."""
        with self.simulator.lock:
            waiting = sorted((r for r in self.reports.values() if not r.announced and self._kept(r)
                              and seller_id in (None, r.seller_id)), key=lambda r: (r.created, r.report_id))
        for report in waiting:
            self._push(report)
        return len(waiting)

    def _report(self, seller_id: str, report_id: str, report_type: str, text: str, created: datetime,
                marketplace_ids: Any) -> Report:
        start = end = created
        if report_type == SETTLEMENT_REPORT:
            start, end = settlement_period(text) or (created, created)
        body = text.encode("utf-8")
        return Report(seller_id, report_id, report_type, created, gzip.compress(body, mtime=0), len(body),
                      [str(m) for m in marketplace_ids or []], start, end)

    def _push(self, report: Report) -> None:
        report.announced = True
        body = {"sellerId": report.seller_id, "accountId": f"amzn1.merchant.o.{report.seller_id}",
                "reportId": report.report_id, "reportType": report.report_type,
                "processingStatus": report.status, "reportDocumentId": report.document_id}
        self.simulator.notifications.push(report.seller_id, "REPORT_PROCESSING_FINISHED",
                                          {"reportProcessingFinishedNotification": body})

    # --- documents (the presigned URLs: raw bytes, outside the SP-API routes) -------------------

    def document_url(self, report: Report, content_encoding: bool = False) -> str:
        expires = int(time.time()) + URL_LIFETIME
        url = (f"{self.simulator.url}{REPORT_DOCUMENTS_PATH}{quote(report.seller_id, safe='')}/"
               f"{quote(report.document_id, safe='')}?X-Amz-Expires={expires}")
        return url + ("&response-content-encoding=gzip" if content_encoding else "")

    def raw(self, method: str, path: str, query: str) -> tuple[int, bytes, dict[str, str]]:
        """GET (download) of a report document at its URL: (status, body, headers). The bytes are
        gzip-compressed; with response-content-encoding=gzip the answer says so in its headers."""
        xml = {"Content-Type": "application/xml"}
        seller_id, _, document_id = path.removeprefix(REPORT_DOCUMENTS_PATH).partition("/")
        report = next((r for r in self.reports.values() if r.seller_id == unquote(seller_id)
                       and r.document_id == unquote(document_id) and self._kept(r)), None)
        if report is None:
            return 404, b"<Error><Code>NoSuchKey</Code></Error>", xml
        if method != "GET":
            return 403, b"<Error><Code>AccessDenied</Code></Error>", xml
        params = parse_qs(query)
        expires = one(params, "X-Amz-Expires") or ""
        if not expires.isdigit() or int(expires) < time.time():
            return 403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", xml
        headers = {"Content-Type": CONTENT_TYPE}
        if one(params, "response-content-encoding") == "gzip":
            headers["Content-Encoding"] = "gzip"
        return 200, report.document, headers

    # --- reports ----------------------------------------------------------------------------------

    def _kept(self, report: Report) -> bool:
        """Amazon has written the report by now, and keeps it 90 days."""
        now = datetime.now(UTC)
        return report.created <= now and now - report.created <= RETENTION

    def _found(self, caller: Caller, report_id: str) -> Report | None:
        return next((r for r in self.reports.values() if r.report_id == report_id and caller.may_see(r.seller_id)
                     and self._kept(r)), None)

    def _report_json(self, report: Report) -> dict[str, Any]:
        out: dict[str, Any] = {"reportId": report.report_id, "reportType": report.report_type,
                               "dataStartTime": format_time(report.data_start),
                               "dataEndTime": format_time(report.data_end),
                               "createdTime": format_time(report.created), "processingStatus": report.status,
                               "processingStartTime": format_time(report.created),
                               "processingEndTime": format_time(report.created),
                               "reportDocumentId": report.document_id}
        if report.marketplace_ids:
            out["marketplaceIds"] = list(report.marketplace_ids)
        return out

    def _get_report(self, caller: Caller, params: dict[str, Any]) -> Reply:
        report = self._found(caller, params["reportId"])
        if report is None:
            return Reply(404, errors("NotFound", f"Report {params['reportId']} was not found."), "getReport")
        return Reply(200, self._report_json(report), "getReport")

    def _get_reports(self, caller: Caller, params: dict[str, Any]) -> Reply:
        """Newest first. The first call names the filters (reportTypes required); a nextToken
        carries them, with where the last page ended, and must come alone."""
        now = datetime.now(UTC)
        cursor: tuple[datetime, str] | None = None
        if params.get("nextToken"):
            given = [name for name in _FILTERS if name in params]
            if given:
                raise InvalidInput(f"nextToken must be the only parameter; {', '.join(given)} was given too.")
            filters, cursor = _read_token(str(params["nextToken"]), caller)
        else:
            if not params.get("reportTypes"):
                raise InvalidInput("reportTypes is required unless nextToken is given.")
            since = _moment(params["createdSince"]) if params.get("createdSince") else now - RETENTION
            until = _moment(params["createdUntil"]) if params.get("createdUntil") else now
            if until < since:
                raise InvalidInput("createdUntil must be after createdSince.")
            filters = {"types": sorted(params["reportTypes"]),
                       "statuses": sorted(params.get("processingStatuses") or []),
                       "marketplaces": sorted(params.get("marketplaceIds") or []),
                       "since": since.isoformat(), "until": until.isoformat(),
                       "size": int(params.get("pageSize") or 10)}
        since, until = parse_time(filters["since"]), parse_time(filters["until"])
        found = sorted((r for r in self.reports.values()
                        if caller.may_see(r.seller_id) and self._kept(r) and r.report_type in filters["types"]
                        and (not filters["statuses"] or r.status in filters["statuses"])
                        and (not filters["marketplaces"] or not r.marketplace_ids
                             or set(r.marketplace_ids) & set(filters["marketplaces"]))
                        and since <= r.created <= until),
                       key=lambda r: (r.created, r.report_id), reverse=True)
        if cursor is not None:
            found = [r for r in found if (r.created, r.report_id) < cursor]
        size = filters["size"]
        page = found[:size]
        body: dict[str, Any] = {"reports": [self._report_json(r) for r in page]}
        if len(found) > size:
            body["nextToken"] = _write_token(filters, caller, page[-1])
        return Reply(200, body, "getReports")

    def _get_document(self, caller: Caller, params: dict[str, Any]) -> Reply:
        document_id = params["reportDocumentId"]
        report = next((r for r in self.reports.values() if r.document_id == document_id
                       and caller.may_see(r.seller_id) and self._kept(r)), None)
        if report is None:
            return Reply(404, errors("NotFound", f"Report document {document_id} was not found."),
                         "getReportDocument")
        encoded = str(params.get("enableContentEncodingUrlHeader", "")).lower() == "true"
        return Reply(200, {"reportDocumentId": document_id, "url": self.document_url(report, encoded),
                           "compressionAlgorithm": "GZIP"}, "getReportDocument")

    def _create_report(self, caller: Caller, params: dict[str, Any]) -> Reply:
        report_type = params["body"]["reportType"]
        if report_type == SETTLEMENT_REPORT:
            raise InvalidInput(f"Settlement reports ({SETTLEMENT_REPORT}) are generated by Amazon for each "
                               f"settlement period and cannot be requested: find them with getReports.")
        raise InvalidInput(f"The simulator does not generate {report_type} reports.")

    def _cancel_report(self, caller: Caller, params: dict[str, Any]) -> Reply:
        report = self._found(caller, params["reportId"])
        if report is None:
            return Reply(404, errors("NotFound", f"Report {params['reportId']} was not found."), "cancelReport")
        raise InvalidInput(f"Report {report.report_id} is {report.status}: only reports IN_QUEUE can be cancelled.")

    # --- the view -------------------------------------------------------------------------------------

    def _view(self, query: Mapping[str, list[str]]) -> Any:
        """The reports Amazon holds, without their documents (?sellerId=): ids, types, times, sizes."""
        seller_id = one(query, "sellerId")
        with self.simulator.lock:
            return {"reports": [{**self._report_json(r), "sellerId": r.seller_id, "bytes": r.size,
                                 "compressedBytes": len(r.document), "kept": self._kept(r),
                                 "announced": r.announced}
                                for r in sorted(self.reports.values(), key=lambda r: (r.seller_id, r.created,
                                                                                      r.report_id))
                                if seller_id in (None, r.seller_id)]}


def _caller_digest(caller: Caller) -> str:
    return hashlib.sha256(caller.identity.encode()).hexdigest()[:16]


def _write_token(filters: dict[str, Any], caller: Caller, last: Report) -> str:
    content = {"f": filters, "c": _caller_digest(caller), "t": last.created.isoformat(), "i": last.report_id}
    return base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=")


def _read_token(token: str, caller: Caller) -> tuple[dict[str, Any], tuple[datetime, str]]:
    """The filters of the first page and where the last page ended."""
    try:
        content = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        given = content["f"]
        filters = {"types": list(given["types"]), "statuses": list(given["statuses"]),
                   "marketplaces": list(given["marketplaces"]), "since": parse_time(given["since"]).isoformat(),
                   "until": parse_time(given["until"]).isoformat(), "size": int(given["size"])}
        cursor, digest = (parse_time(content["t"]), str(content["i"])), content["c"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput("nextToken is not a token this API issued.") from None
    if digest != _caller_digest(caller):
        raise InvalidInput("nextToken was issued to another caller.")
    return filters, cursor
