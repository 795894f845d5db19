"""SQS batch plumbing for Chalice handlers: Powertools partial-batch responses, and the
failure record that makes a dead-lettered message explainable through `GET /failures`."""
from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import resources
from chalicelib.core.errors import InvalidNotification, NotAdmitted, PermanentError, RetryLater
from chalicelib.core.observability import count, logger
from chalicelib.core.state import DynamoState, Failure
from chalicelib.core.times import iso

_TRANSIENT_CODES = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                    "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
                    "RequestThrottled", "KMSInternalException", "LimitExceededException"}


def is_transient(exc: BaseException) -> bool:
    """Throttling, timeouts and AWS-side errors: SQS retries the record, nobody needs a report."""
    if isinstance(exc, RetryLater):
        return True
    if _code(exc) in _TRANSIENT_CODES:
        return True
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError

    cause = getattr(exc, "cause", None)
    return (isinstance(exc, (BotoConnectionError, ReadTimeoutError))
            or isinstance(cause, (BotoConnectionError, ReadTimeoutError)))


def _code(exc: BaseException) -> str | None:
    code = getattr(exc, "cause_response_code", None)  # PynamoDB wraps botocore's error
    if code is None and hasattr(exc, "response"):
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code


def refused_by_store(exc: BaseException) -> bool:
    """DynamoDB's or SQS's refusal of a value (ValidationException, a message too long)."""
    return _code(exc) in {"ValidationException", "InvalidParameterValue", "BatchRequestTooLong",
                          "AWS.SimpleQueueService.BatchRequestTooLong"}


def _sent_at(record: SQSRecord) -> str:
    millis = int(record.attributes.sent_timestamp or 0)
    return iso(datetime.fromtimestamp(millis / 1000, tz=UTC))


def receive_count(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)


def last_delivery(record: SQSRecord, queue: str) -> bool:
    """The record's delivery is its queue's last: failing, it goes to the dead-letter queue."""
    return receive_count(record) >= resources.queue(queue).max_receive_count


def record_failure(record: SQSRecord, queue: str, reason: str, kind: str, state: DynamoState,
                   notification: tuple[str | None, str | None] = (None, None)) -> None:
    body = record.body or ""
    now = iso(datetime.now(UTC))
    state.record_failure(Failure(
        message_id=record.message_id,
        queue=queue,
        reason=reason[:500],
        kind=kind,
        first_seen=_sent_at(record),
        last_seen=now,
        receive_count=receive_count(record),
        dead_lettered=last_delivery(record, queue),
        notification_type=notification[0],
        notification_id=notification[1],
        body_sha256=hashlib.sha256(body.encode("utf-8", "replace")).hexdigest(),
        body_length=len(body),
    ), sent_at=_sent_at(record))


def process_batch(event: dict[str, Any], queue: str, handle: Callable[[SQSRecord], str],
                  state: Callable[[], DynamoState], after: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Run `handle` on each record. A record that raises is reported back to SQS (retried, then
    dead-lettered); `PermanentError` and unexpected errors are also recorded with their reason."""
    log = logger()

    def on_record(record: SQSRecord) -> str:
        log.append_keys(message_id=record.message_id, queue=queue)
        log.set_correlation_id(record.message_id)
        try:
            outcome = handle(record)
        except PermanentError as exc:
            kind = "refused" if isinstance(exc, NotAdmitted) else "invalid"
            count(queue, kind)
            log.warning("message not admitted" if kind == "refused" else "message can never succeed",
                        extra={"reason": exc.reason})
            record_failure(record, queue, exc.reason, kind, state(),
                           exc.notification if isinstance(exc, InvalidNotification) else (None, None))
            raise
        except Exception as exc:
            if refused_by_store(exc):
                # A value DynamoDB refuses (too long, too large): a parser let it through. It
                # can never succeed; the record fails alone, with what the store said.
                count(queue, "invalid")
                log.error("a store refused a value", extra={"error": type(exc).__name__})
                record_failure(record, queue, "the store refused a value of this message (too long or too "
                               "large): it can never succeed", "invalid", state())
                raise
            if is_transient(exc):
                count(queue, "transient")
                log.warning("transient failure: the record goes back to the queue", extra={"error": type(exc).__name__})
                raise
            count(queue, "error")
            # The exception text may quote input (personal data): log its type and where, never its message.
            where = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                     for f in traceback.extract_tb(exc.__traceback__)]
            log.error("message failed", extra={"error": type(exc).__name__, "where": where[-4:]})
            record_failure(record, queue,
                           f"unexpected {type(exc).__name__}: retried, "
                           f"see the logs for message {record.message_id}",
                           "unexpected", state())
            raise
        count(queue, outcome)
        return outcome

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=event, record_handler=on_record, processor=processor)
    after()
    return dict(response)  # a TypedDict (PartialItemFailureResponse): the same {"batchItemFailures": [...]}
