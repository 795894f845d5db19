"""Every setting, read from the environment in one place.

Functions, not module constants: Chalice sets a stage's environment variables only while a
handler runs (not when `app.py` is imported), and tests change them between cases. Resource names
come from `chalicelib.resources`; the variables are the stack's outputs (infra/deploy.py writes
them into the Chalice stage).
"""
from __future__ import annotations

import os
from datetime import timedelta

from chalicelib import resources
from chalicelib.core.times import parse_duration
from chalicelib.resources import Queue, Table

SERVICE_NAME = "sellerops"
METRICS_NAMESPACE = "Sellerops"


def _get(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"setting {name} is not configured (see README, Configuration)")
    return value


def stage() -> str:
    # Read at import by app.py to name the queues Chalice subscribes to, so it has a default.
    return os.environ.get("SELLEROPS_STAGE", "dev")


def queue_name(queue: Queue) -> str:
    """Physical queue name, as infra/template.yaml names it."""
    return queue.name(stage())


def table_name(table: Table) -> str:
    return _get(table.env, table.name(stage()))


def queue_url(queue: Queue) -> str:
    return _get(queue.url_env)


def dead_letter_url(queue: Queue) -> str:
    return _get(queue.dlq_url_env)


def data_key_id() -> str:
    return _get(resources.DATA_KEY.env, resources.DATA_KEY.name(stage()))


def invoice_bucket() -> str:
    return _get(resources.INVOICE_BUCKET.env)


def spapi_secret_id() -> str:
    return _get(resources.SPAPI_SECRET.env, resources.SPAPI_SECRET.name(stage()))


def api_token_hash_parameter() -> str:
    return _get(resources.API_TOKEN_HASH.env, resources.API_TOKEN_HASH.name(stage()))


def page_token_key_parameter() -> str:
    return _get(resources.PAGE_TOKEN_KEY.env, resources.PAGE_TOKEN_KEY.name(stage()))


def spapi_endpoint() -> str | None:
    """Override of Amazon's regional endpoint; set only for the local Amazon simulator."""
    return os.environ.get("SPAPI_ENDPOINT") or None


def lwa_endpoint() -> str | None:
    """Override of the LWA token host (`http://host:port`); local simulator only."""
    return os.environ.get("LWA_ENDPOINT") or None


def rate_scale() -> float:
    """Multiplies Amazon's rate limits. 1 in AWS; the local stack speeds time up."""
    return float(os.environ.get("SELLEROPS_RATE_SCALE", "1"))


def order_poll_overlap_seconds() -> int:
    """How far back the backstop poller re-reads, so an order updated at the edge is not lost."""
    return int(os.environ.get("ORDER_POLL_OVERLAP_SECONDS", "300"))


def order_search_door() -> bool:
    """Whether orders' details may be read through searchOrders pages when many wait (on by
    default; `false` keeps getOrder alone, as the getOrder rate benchmark measures it)."""
    return os.environ.get("ORDER_SEARCH_DOOR", "true").strip().lower() not in ("false", "0", "no", "off")


def first_poll_window_days() -> float:
    """How far back the backstop reads for a seller and marketplace it has never polled."""
    return float(os.environ.get("FIRST_POLL_WINDOW_DAYS", "1"))


def stock_reorder_point() -> int:
    """The reorder point of a SKU that has none of its own (STOCK_REORDER_POINT, default 3): at
    or below it, on hand less reserved puts the SKU on the reorder list."""
    text = os.environ.get("STOCK_REORDER_POINT", "3")
    if not text.isdigit() or int(text) > 10_000_000:
        raise RuntimeError(f"STOCK_REORDER_POINT={text[:20]!r} is not a whole number of units")
    return int(text)


def ship_by_alert_window() -> timedelta:
    """How long before an order's latest ship date the ship-by alerts warn (ISO 8601, e.g. PT12H)."""
    text = os.environ.get("SHIP_BY_ALERT_WITHIN", "PT12H")
    window = parse_duration(text)
    if window is None or window > timedelta(days=30):
        raise RuntimeError(f"SHIP_BY_ALERT_WITHIN={text[:20]!r} is not a duration up to P30D, like PT12H")
    return window


def alerts_topic_arn() -> str:
    """The SNS topic of the alarms and the seller's alerts (the stack's AlertsTopicArn)."""
    return _get(resources.ALERTS_TOPIC.env)


def deploy_api() -> bool:
    """False deploys the queue and schedule handlers without the HTTPS API (no API Gateway): set by
    `python -m infra.deploy deploy --no-api`, e.g. against moto, which cannot import a REST API."""
    return os.environ.get("SELLEROPS_DEPLOY_API", "true").strip().lower() not in ("false", "0", "no")


def health_cache_seconds() -> float:
    """How long a container serves the same `/health` answer (it asks SQS and DynamoDB once per
    period, however often the open route is called)."""
    return float(os.environ.get("HEALTH_CACHE_SECONDS", "15"))
