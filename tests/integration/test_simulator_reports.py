"""The simulator's Reports API, driven through python-amazon-sp-api as the settlements flow drives
Amazon: settlement reports listed and paged, their documents downloaded gzip-compressed, what
Amazon refuses, its 90 days of retention, injected faults, and REPORT_PROCESSING_FINISHED."""
from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sp_api.api import ReportsV2
from sp_api.auth import AccessTokenClient
from sp_api.auth import access_token_client as lwa_client_module
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiForbiddenException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
)

from infra.local.amazon import Simulator

SELLER, TOKEN, DE = "A1SELLERONE", "Atzr|seller-one", "A1PA6795UKMFR9"
OTHER_SELLER, OTHER_TOKEN = "A2SELLERTWO", "Atzr|seller-two"
CREDENTIALS = {"lwa_app_id": "amzn1.application-oa2-client.sim", "lwa_client_secret": "sim-secret"}
SETTLEMENT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
NOW = datetime.now(UTC).replace(microsecond=0)
HEADER = ("settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t"
          "transaction-type\torder-id\tamount-type\tamount-description\tamount\tposted-date")


def settlement_text(number: int, start: datetime, dotted: bool = False) -> str:
    """A small settlement file, its dates as a US account writes them or as a German one does."""
    style = "%d.%m.%Y %H:%M:%S UTC" if dotted else "%Y-%m-%d %H:%M:%S UTC"
    end, deposit = start + timedelta(days=14), start + timedelta(days=16)
    settlement_id = f"1179524{number:04d}"
    return "\n".join([HEADER,
                      f"{settlement_id}\t{start:{style}}\t{end:{style}}\t{deposit:{style}}\t-39.00\tEUR\t\t\t\t\t\t",
                      f"{settlement_id}\t\t\t\t\t\tother-transaction\t\tother-transaction\tSubscription Fee\t-39.00\t"
                      f"{end:%Y-%m-%d}"]) + "\n"


def world_reports() -> list[dict[str, Any]]:
    """Twelve settlements of the seller, one every five days, the newest a day old; one older
    than Amazon keeps; one Amazon writes tomorrow; another report type; and the other seller's
    settlement."""
    reports = [{"sellerId": SELLER, "reportId": f"5000000{n:04d}", "reportType": SETTLEMENT,
                "createdTime": (NOW - timedelta(days=1 + 5 * n)).isoformat(), "marketplaceIds": [DE],
                "document": settlement_text(n, NOW - timedelta(days=17 + 5 * n), dotted=n % 2 == 1)}
               for n in range(12)]
    reports += [{"sellerId": SELLER, "reportId": "49999999999", "reportType": SETTLEMENT,
                 "createdTime": (NOW - timedelta(days=91)).isoformat(),
                 "document": settlement_text(99, NOW - timedelta(days=107))},
                {"sellerId": SELLER, "reportId": "50000009999", "reportType": SETTLEMENT,
                 "createdTime": (NOW + timedelta(days=1)).isoformat(),
                 "document": settlement_text(98, NOW - timedelta(days=13))},
                {"sellerId": SELLER, "reportId": "50000001000", "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
                 "createdTime": (NOW - timedelta(days=2)).isoformat(), "document": "sku\tquantity\nMUG-1\t3\n"},
                {"sellerId": OTHER_SELLER, "reportId": "50000002000", "reportType": SETTLEMENT,
                 "createdTime": (NOW - timedelta(days=3)).isoformat(),
                 "document": settlement_text(77, NOW - timedelta(days=19))}]
    return reports


@pytest.fixture(autouse=True)
def fresh_lwa_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    lwa_client_module.cache.clear()
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)


@pytest.fixture
def simulator():
    sim = Simulator({
        "sellers": [{"sellerId": SELLER, "refreshToken": TOKEN, "marketplaceIds": [DE]},
                    {"sellerId": OTHER_SELLER, "refreshToken": OTHER_TOKEN, "marketplaceIds": [DE]}],
        "reports": world_reports()})
    pushed: list[Any] = []
    sim.deliver_to(pushed.append)
    sim.connect("amzn1.application-oa2-client.sim", "arn:aws:sqs:eu-west-1:123456789012:intake",
                [SELLER, OTHER_SELLER], ["REPORT_PROCESSING_FINISHED"])
    sim.start()
    sim.pushed = pushed  # type: ignore[attr-defined]
    yield sim
    sim.stop()


def _client(simulator: Simulator, refresh_token: str = TOKEN) -> Any:
    class SimulatorTokenClient(AccessTokenClient):
        scheme = "http://"
        host = simulator.url.removeprefix("http://")

    client = ReportsV2(Marketplaces.DE, refresh_token=refresh_token, credentials=CREDENTIALS,
                       auth_token_client_class=SimulatorTokenClient)
    client.endpoint = simulator.url
    return client


def _finished(simulator: Any) -> list[dict[str, Any]]:
    return [d.notification["payload"]["reportProcessingFinishedNotification"] for d in simulator.pushed
            if d.notification_type == "REPORT_PROCESSING_FINISHED"]


def test_settlements_are_listed_newest_first_in_pages_by_type_and_creation_time(simulator):
    client = _client(simulator)
    since = NOW - timedelta(days=50)
    first = client.get_reports(reportTypes=[SETTLEMENT], createdSince=since, pageSize=4)
    seen, token = list(first.payload["reports"]), first.next_token
    while token:
        page = client.get_reports(nextToken=token)
        seen += page.payload["reports"]
        token = page.next_token
    assert [r["reportId"] for r in seen] == [f"5000000{n:04d}" for n in range(10)]  # 1 to 46 days old
    assert {r["reportType"] for r in seen} == {SETTLEMENT} and {r["processingStatus"] for r in seen} == {"DONE"}
    created = [r["createdTime"] for r in seen]
    assert created == sorted(created, reverse=True)
    everything = client.get_reports(reportTypes=[SETTLEMENT, "GET_MERCHANT_LISTINGS_ALL_DATA"], pageSize=100)
    assert len(everything.payload["reports"]) == 13 and everything.next_token is None


def test_a_next_token_must_come_alone_and_from_this_api(simulator):
    client = _client(simulator)
    token = client.get_reports(reportTypes=[SETTLEMENT], pageSize=2).next_token
    with pytest.raises(SellingApiBadRequestException) as mixed:
        client.get_reports(nextToken=token, pageSize=5)
    assert "nextToken must be the only parameter" in mixed.value.message
    with pytest.raises(SellingApiBadRequestException):
        client.get_reports(nextToken="not-a-token")
    with pytest.raises(SellingApiBadRequestException) as missing:
        client.get_reports(pageSize=5)
    assert "reportTypes is required" in missing.value.message


def test_a_settlement_report_says_its_period_read_from_its_totals_row(simulator):
    client = _client(simulator)
    for number in (0, 1):  # 2026-11-20 18:03:49 UTC, then 20.11.2026 18:03:49 UTC
        report = client.get_report(f"5000000{number:04d}").payload
        start = NOW - timedelta(days=17 + 5 * number)
        assert report["dataStartTime"] == f"{start:%Y-%m-%dT%H:%M:%SZ}"
        assert report["dataEndTime"] == f"{start + timedelta(days=14):%Y-%m-%dT%H:%M:%SZ}"
        assert report["processingStartTime"] == report["processingEndTime"] == report["createdTime"]
        assert report["marketplaceIds"] == [DE] and report["reportDocumentId"]
    other = client.get_report("50000001000").payload
    assert other["dataStartTime"] == other["dataEndTime"] == other["createdTime"]


def test_the_document_is_served_gzip_compressed_and_is_the_world_s_text(simulator):
    client = _client(simulator)
    report = client.get_report("50000000003").payload
    document = client.get_report_document(report["reportDocumentId"]).payload
    assert document["compressionAlgorithm"] == "GZIP" and document["reportDocumentId"] == report["reportDocumentId"]
    downloaded = httpx.get(document["url"], timeout=10)
    assert downloaded.status_code == 200 and "content-encoding" not in downloaded.headers
    text = gzip.decompress(downloaded.content).decode("utf-8")
    assert text == world_reports()[3]["document"]
    # python-amazon-sp-api downloads and decompresses it too.
    assert client.get_report_document(report["reportDocumentId"], download=True).payload["document"] == text
    assert httpx.put(document["url"], content=b"x", timeout=10).status_code == 403  # Amazon's, read-only
    # With enableContentEncodingUrlHeader=true (python-amazon-sp-api does not send it), the URL
    # answers Content-Encoding: gzip, so an HTTP client decompresses the document itself.
    held = simulator.reports.reports[(SELLER, "50000000003")]
    answer = httpx.get(simulator.reports.document_url(held, content_encoding=True), timeout=10)
    assert answer.headers["content-encoding"] == "gzip" and answer.text == text


def test_a_document_url_expires_and_an_unknown_one_is_not_found(simulator):
    client = _client(simulator)
    url = client.get_report_document(client.get_report("50000000000").payload["reportDocumentId"]).payload["url"]
    stale = url.split("X-Amz-Expires=")[0] + "X-Amz-Expires=1000"
    assert httpx.get(stale, timeout=10).status_code == 403
    assert httpx.get(url.replace("50000000000", "50000000999"), timeout=10).status_code == 404


def test_amazon_refuses_to_create_a_settlement_report_and_the_simulator_creates_none(simulator):
    client = _client(simulator)
    with pytest.raises(SellingApiBadRequestException) as refused:
        client.create_report(reportType=SETTLEMENT, marketplaceIds=[DE])
    assert "generated by Amazon" in refused.value.message and "cannot be requested" in refused.value.message
    with pytest.raises(SellingApiBadRequestException) as other:
        client.create_report(reportType="GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", marketplaceIds=[DE])
    assert "does not generate GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL" in other.value.message
    with pytest.raises(SellingApiBadRequestException) as cancel:
        client.cancel_report("50000000000")
    assert "only reports IN_QUEUE" in cancel.value.message
    with pytest.raises(SellingApiNotFoundException):
        client.cancel_report("12345")


def test_reports_older_than_90_days_are_gone_and_those_still_to_come_are_not_there_yet(simulator):
    client = _client(simulator)
    listed = client.get_reports(reportTypes=[SETTLEMENT], createdSince=NOW - timedelta(days=120),
                                createdUntil=NOW + timedelta(days=2), pageSize=100)
    assert {"49999999999", "50000009999"}.isdisjoint(r["reportId"] for r in listed.payload["reports"])
    assert len(listed.payload["reports"]) == 12
    for report_id in ("49999999999", "50000009999"):
        with pytest.raises(SellingApiNotFoundException):
            client.get_report(report_id)
    with pytest.raises(SellingApiNotFoundException):
        client.get_report_document("amzn1.spdoc.1.4.eu.49999999999.T1")


def test_another_seller_s_reports_are_invisible(simulator):
    client = _client(simulator)
    with pytest.raises(SellingApiNotFoundException):
        client.get_report("50000002000")
    theirs = _client(simulator, OTHER_TOKEN).get_reports(reportTypes=[SETTLEMENT]).payload["reports"]
    assert [r["reportId"] for r in theirs] == ["50000002000"]


@pytest.mark.parametrize(("operation", "status", "raised"), [
    ("getReports", 429, SellingApiRequestThrottledException),
    ("getReports", 403, SellingApiForbiddenException),
    ("getReportDocument", 500, SellingApiServerException),
    ("getReportDocument", 403, SellingApiForbiddenException),
])
def test_injected_faults_surface_as_python_amazon_sp_api_s_exceptions(simulator, operation, status, raised):
    client = _client(simulator)
    simulator.inject_faults(operation, [status])

    def call() -> Any:
        if operation == "getReports":
            return client.get_reports(reportTypes=[SETTLEMENT])
        return client.get_report_document("amzn1.spdoc.1.4.eu.50000000000.T1")

    with pytest.raises(raised) as failed:
        call()
    assert failed.value.code == status
    assert call().payload  # the next call is answered
    assert simulator.stats()[operation]["calls"] == 2


def test_getreports_beyond_its_burst_is_throttled(simulator):
    client = _client(simulator)
    for _ in range(10):  # 0.0222 a second, burst 10
        client.get_reports(reportTypes=[SETTLEMENT], pageSize=1)
    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        client.get_reports(reportTypes=[SETTLEMENT], pageSize=1)
    assert throttled.value.headers["x-amzn-RateLimit-Limit"] == "0.0222"


def test_a_report_amazon_writes_now_is_listed_and_pushed_and_world_reports_only_when_published(simulator):
    assert _finished(simulator) == []  # the world's reports are there to be found, not announced
    text = settlement_text(500, NOW - timedelta(days=14))
    report_id = simulator.reports.add_report(SELLER, SETTLEMENT, text, marketplace_ids=[DE])
    (finished,) = _finished(simulator)
    assert finished == {"sellerId": SELLER, "accountId": f"amzn1.merchant.o.{SELLER}", "reportId": report_id,
                        "reportType": SETTLEMENT, "processingStatus": "DONE",
                        "reportDocumentId": f"amzn1.spdoc.1.4.eu.{report_id}.T1"}
    client = _client(simulator)
    assert client.get_reports(reportTypes=[SETTLEMENT], pageSize=1).payload["reports"][0]["reportId"] == report_id
    url = client.get_report_document(finished["reportDocumentId"]).payload["url"]
    assert gzip.decompress(httpx.get(url, timeout=10).content).decode() == text

    quiet = simulator.reports.add_report(SELLER, SETTLEMENT, text, notify=False)
    assert len(_finished(simulator)) == 1
    assert simulator.reports.publish_world_reports() == 14 + 1  # the world's kept ones, and the quiet one
    announced = {f["reportId"] for f in _finished(simulator)}
    assert quiet in announced and {"49999999999", "50000009999"}.isdisjoint(announced)  # gone, or still to come
    assert simulator.reports.publish_world_reports() == 0


def test_the_reports_view_lists_each_seller_s_reports_without_their_text(simulator):
    found = httpx.get(f"{simulator.views_url}/_simulator/reports", params={"sellerId": OTHER_SELLER},
                      timeout=10).json()["reports"]
    (report,) = found
    assert report["reportId"] == "50000002000" and report["sellerId"] == OTHER_SELLER
    assert report["bytes"] == len(world_reports()[-1]["document"].encode()) and report["compressedBytes"] > 0
    assert "document" not in report and report["kept"] is True
    assert "/_simulator/reports" in httpx.get(f"{simulator.views_url}/_simulator/", timeout=10).json()["views"]


def test_a_world_report_without_its_keys_is_refused():
    with pytest.raises(ValueError, match=r"reports\[0\]"):
        Simulator({"reports": [{"sellerId": SELLER, "reportId": "1", "reportType": SETTLEMENT}]})


def test_the_scenario_s_settlements_are_served_and_balance_to_the_cent():
    """The demo scenario's settlement reports (infra/local/scenario/settlements.py), downloaded as
    the flow does and read with its parser: each balances, and says what `expected` says."""
    from chalicelib.flows.settlements import parsing, rules
    from infra.local.scenario import build_scenario

    start = (NOW - timedelta(days=40)).replace(hour=8, minute=0, second=0)
    scenario = build_scenario(seed=7, orders=120, start=start)
    expected = scenario.expected["settlements"]
    orders = {e["order"]["orderId"]: e["order"] for e in scenario.world["orders"]}
    sales: dict[str, Decimal] = {}
    with Simulator(scenario.world) as simulator:
        for seller in expected:
            token = next(s["refreshToken"] for s in scenario.world["sellers"] if s["sellerId"] == seller["sellerId"])
            client = _client(simulator, token)
            listed = client.get_reports(reportTypes=[SETTLEMENT], processingStatuses=["DONE"]).payload["reports"]
            assert [r["reportId"] for r in listed] == [r["reportId"] for r in reversed(seller["reports"])]
            for report, wanted in zip(reversed(listed), seller["reports"], strict=True):
                url = client.get_report_document(report["reportDocumentId"]).payload["url"]
                text = gzip.decompress(httpx.get(url, timeout=10).content).decode("utf-8")
                head, body = parsing.read(text.splitlines(True))
                tally = rules.Tally.read(head, body)
                assert rules.control(tally).holds, rules.control(tally).reason()
                assert (head.settlement_id, str(head.total), tally.rows, len(tally.orders)) == (
                    wanted["settlementId"], wanted["totalAmount"], wanted["rows"], wanted["orders"])
                assert report["dataStartTime"] == wanted["start"] and report["dataEndTime"] == wanted["end"]
                reserve = seller["reserve"]
                assert tally.by_category["reserve"] == (
                    Decimal(reserve["held"]) + Decimal(reserve["releasedFirst"]) if wanted is seller["reports"][0]
                    else Decimal(reserve["released"]))
                for order_id, money in tally.orders.items():
                    sales[order_id] = sales.get(order_id, Decimal(0)) + money.sales
                for paid in (p for p in seller["paid"] if p["settlementId"] == head.settlement_id):
                    assert tally.orders[paid["orderId"]].net == Decimal(paid["net"])
                variance = seller["variance"]
                if variance and variance["settlementId"] == head.settlement_id:
                    money = tally.orders[variance["orderId"]]
                    grand = Decimal(orders[variance["orderId"]]["proceeds"]["grandTotal"]["amount"])
                    assert money.sales - grand == Decimal("0.05") == Decimal(variance["difference"])
    (variance,) = [s["variance"] for s in expected if s["variance"]]
    # Every order shipped whole was settled at its price (what its invoices total), but the variance.
    shipped = {o: Decimal(order["proceeds"]["grandTotal"]["amount"]) for o, order in orders.items()
               if order["fulfillment"]["fulfillmentStatus"] == "SHIPPED"}
    assert set(shipped) <= set(sales)
    assert {o: sales[o] - price for o, price in shipped.items() if sales[o] != price} == {
        variance["orderId"]: Decimal("0.05")}
