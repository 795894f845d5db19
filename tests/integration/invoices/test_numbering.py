"""Numbering and archiving against moto, under the functions' own roles: gapless series under
concurrent workers, one document per shipment whatever the retries, PDFs written once and locked."""
from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.function import running
from chalicelib.core.tasks import Outcome, Task
from chalicelib.flows.invoices import rules, service
from chalicelib.flows.invoices.store import ArchiveConflict
from tests.unit.invoices.builders import FR_PROFILE, buyer, item, order, supply

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def seller(aws_stack):
    from chalicelib.flows.invoices import wiring

    seller_id = "A" + uuid.uuid4().hex[:12].upper()
    with running("api_handler"):
        wiring.profiles().save_profile(rules.parse_profile(seller_id, FR_PROFILE), NOW)
    return seller_id


def _document(seller_id: str, order_id: str, source: str = "shipment#1") -> rules.Document:
    money = replace(order(item()), seller_id=seller_id, order_id=order_id)
    return rules.build_invoice(money, supply({"1": 1}, source), rules.parse_profile(seller_id, FR_PROFILE),
                               buyer(), NOW.date())


def _allocate(doc: rules.Document):
    from chalicelib.flows.invoices import wiring

    store = wiring.store()
    series = rules.Series()
    return store.allocate(doc, store.seal_buyer(doc, buyer()), series.start,
                          lambda n: series.number(doc.series_id, n), NOW + timedelta(days=1), NOW)


def test_each_document_takes_the_next_number_and_a_retry_takes_none(seller):
    with running("tasks"):
        first = _allocate(_document(seller, "171-0000001-0000001"))
        second = _allocate(_document(seller, "171-0000002-0000002"))
        again = _allocate(_document(seller, "171-0000001-0000001"))
    assert (first.issued.number, second.issued.number) == ("INV-2026-000001", "INV-2026-000002")
    assert again.new is False and again.issued.number == "INV-2026-000001"


def test_concurrent_workers_number_without_gap_or_duplicate(seller):
    numbers: list[str] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with running("tasks"):
                for k in range(10):
                    order_id = f"171-{index:07d}-{k:07d}"
                    numbers.append(_allocate(_document(seller, order_id)).issued.number)
                    if k % 3 == 0:  # a duplicated trigger: the same shipment again
                        assert _allocate(_document(seller, order_id)).new is False
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    import collections
    assert not [n for n, c in collections.Counter(numbers).items() if c > 1]
    assert sorted(numbers) == [f"INV-2026-{n:06d}" for n in range(1, 61)]


def test_a_numbered_document_is_drawn_once_and_locked(seller, aws_stack):
    from chalicelib.flows.invoices import wiring

    with running("tasks"):
        issued = _allocate(_document(seller, "171-0000009-0000009")).issued
    task = Task(service.RENDER, seller, issued.number, {})
    with running("work"):
        assert service.render_invoice(task, wiring.render_ports(), NOW).outcome is Outcome.DONE
        assert service.render_invoice(task, wiring.render_ports(), NOW).outcome is Outcome.SKIPPED
        stored = wiring.store().get(seller, issued.number)
        assert stored.state == "rendered" and stored.pdf_key.endswith(f"{issued.number}.pdf")
        head = aws_stack.client("s3").head_object(Bucket=aws_stack.env()["INVOICE_BUCKET"], Key=stored.pdf_key)
        assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"].year == 2036
        assert head["ServerSideEncryption"] == "aws:kms"
        archive = wiring.archive()
        body = wiring.render_ports().render(stored.document, wiring.store().open_buyer(stored), None)
        assert archive.put(stored.pdf_key, body, NOW) == stored.pdf_sha256  # the same bytes again: fine
        with pytest.raises(ArchiveConflict):
            archive.put(stored.pdf_key, body + b"%", NOW)  # never overwritten
        assert [t.kind for t, _ in wiring.render_ports().tasks._pending] == ["upload_invoice"]  # then its upload
        wiring.render_ports().tasks.discard()


def test_an_order_waits_for_its_sellers_profile_and_is_named_when_it_comes(aws_stack):
    from chalicelib.core import wiring as core
    from chalicelib.flows.invoices import wiring

    seller_id = "A" + uuid.uuid4().hex[:12].upper()
    with running("tasks"):
        wiring.store().mark_waiting(seller_id, "171-0000003-0000003", NOW)
    with running("api_handler"):
        assert wiring.profiles().count_waiting(seller_id) == 1
        queue = core.task_queue()
        queue.discard()
        service.save_profile(wiring.profiles(), queue, seller_id, FR_PROFILE, NOW)
        assert [(t.kind, t.key) for t, _ in queue._pending] == [("issue_invoices", "171-0000003-0000003")]
        queue.discard()
