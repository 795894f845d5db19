"""The one declaration of every AWS resource sellerops uses: queues, tables, the invoice bucket,
the data key, the SP-API secret and the API token hash.

Everything else reads its names from here: app.py (the queues Chalice subscribes to),
infra/template.py (which generates infra/template.yaml, its outputs included), infra/deploy.py
(stack outputs → the stage's environment, the functions' timeouts), infra/policy.py (the IAM
policies) and the local stack (infra/local). Physical names are `sellerops-<stage>-<suffix>`, so
names, policies and the template agree without reading the stack.

A flow that needs a table adds one `Table(...)` line to TABLES; nothing else names it.
"""
from __future__ import annotations

from dataclasses import dataclass

PREFIX = "sellerops"


def physical(stage: str, suffix: str) -> str:
    return f"{PREFIX}-{stage}-{suffix}"


# ---------------------------------------------------------------------------------- queues

@dataclass(frozen=True)
class Queue:
    """An SQS standard queue, its dead-letter queue, and the Lambda function that consumes it."""

    suffix: str  # sellerops-<stage>-<suffix>, and -<suffix>-dlq
    stem: str  # CloudFormation ids and outputs: <stem>Queue, <stem>QueueUrl, <stem>DeadLetterQueue...
    env: str  # environment variables <env>_QUEUE_URL and <env>_DLQ_URL
    handler: str  # the Chalice function in app.py that consumes it (also its Lambda's name)
    purpose: str
    timeout_seconds: int  # its consumer's Lambda timeout; the visibility timeout is six times it
    memory_mb: int
    batch_size: int
    max_receive_count: int = 5  # receives before a message moves to the dead-letter queue
    retention_seconds: int = 4 * 24 * 3600
    dead_letter_retention_seconds: int = 14 * 24 * 3600
    # The alarm's threshold on its oldest message's age: past it, the queue is falling behind.
    oldest_message_alarm_seconds: int = 3600

    def name(self, stage: str) -> str:
        return physical(stage, self.suffix)

    def dlq_name(self, stage: str) -> str:
        return physical(stage, f"{self.suffix}-dlq")

    @property
    def url_env(self) -> str:
        return f"{self.env}_QUEUE_URL"

    @property
    def dlq_url_env(self) -> str:
        return f"{self.env}_DLQ_URL"

    @property
    def visibility_timeout(self) -> int:
        # AWS's advice for SQS event sources: at least six times the function's timeout.
        return 6 * self.timeout_seconds


INTAKE = Queue("intake", "Intake", "INTAKE", "intake",
               "SP-API notifications (and EventBridge listings events): cheap, never calls Amazon",
               timeout_seconds=60, memory_mb=512, batch_size=10, oldest_message_alarm_seconds=900)
# Tasks mostly wait on Amazon (a getOrder takes some 0.3 s, of which the function's own work is
# a tenth): Lambda bills that wait by memory, and 256 MB holds the code (about 60 MB) with room.
TASKS = Queue("tasks", "Task", "TASK", "tasks",
              "work that calls Amazon, at the pace the shared rate limiter allows",
              timeout_seconds=60, memory_mb=256, batch_size=10)
WORK = Queue("work", "Work", "WORK", "work",
             "heavy work (PDF rendering, report parsing): longer timeout, more memory, one at a time",
             timeout_seconds=300, memory_mb=1024, batch_size=1)

QUEUES: tuple[Queue, ...] = (INTAKE, TASKS, WORK)


def queue(suffix: str) -> Queue:
    for candidate in QUEUES:
        if candidate.suffix == suffix:
            return candidate
    raise KeyError(f"no queue {suffix!r}; queues are {', '.join(q.suffix for q in QUEUES)}")


# ---------------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # or KEYS_ONLY, or INCLUDE (the keys and `included`)
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A DynamoDB table (on demand, encrypted with the data key, point-in-time recovery unless
    it says otherwise). Keys and index keys are strings."""

    suffix: str  # sellerops-<stage>-<suffix>
    stem: str  # <stem>Table, output <stem>TableName
    env: str  # the environment variable holding its name
    holds: str  # what it holds, in a few words (destroy lists what it keeps)
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    point_in_time_recovery: bool = True

    def name(self, stage: str) -> str:
        return physical(stage, self.suffix)

    @property
    def logical_id(self) -> str:
        return f"{self.stem}Table"

    @property
    def output(self) -> str:
        return f"{self.stem}TableName"


# What the orders' list index carries besides its keys: a page's filters. Not the row, which
# every change would write into it again (flows/orders/store.py reads a page's orders after).
# One index for every list, by status or not: a second, keyed by status, cost as many write
# units again (a change moves an order in each: a delete and a put), for pages a filter gives.
ORDERS_LISTED_BY = ("marketplace_id", "change_key", "status")
ORDERS = Table("orders", "Orders", "ORDERS_TABLE", "orders, their timelines and money",
               hash_key="order_id",
               indexes=(Index("by_seller_listed", "seller_id", "updated_key", projection="INCLUDE",
                              included=ORDERS_LISTED_BY),
                        # Sparse: merchant orders Amazon has not marked shipped, by their latest
                        # ship date (the ship-by alerts and GET /shipments/due).
                        Index("by_ship_by", "ship_by_seller", "ship_by_key", projection="INCLUDE",
                              included=("ship_by_alerted",))))
# Buyer data is kept 30 days past delivery, then deleted by the purge schedule (TTL is a second
# net), and has no point-in-time recovery: a backup would keep it 35 days longer.
BUYER_DATA = Table("buyer-data", "BuyerData", "BUYER_DATA_TABLE",
                   "buyer personal data, encrypted, deleted 30 days after delivery",
                   hash_key="order_id", ttl_attribute="expires_at",
                   indexes=(Index("by_expiry", "expiry_day", "order_id", projection="KEYS_ONLY"),),
                   point_in_time_recovery=False)
STATE = Table("state", "State", "STATE_TABLE",
              "rate limiter, polling watermarks, failure records, sellers, calls to Amazon",
              hash_key="pk", range_key="sk", ttl_attribute="expires_at")

SHIPMENTS = Table("shipments", "Shipments", "SHIPMENTS_TABLE",
                  "merchant shipments recorded by the warehouse, and Amazon's answers to their confirmations",
                  hash_key="order_id",
                  indexes=(Index("by_pending", "pending_seller", "order_id", projection="KEYS_ONLY"),
                           Index("by_attention", "attention_seller", "order_id", projection="KEYS_ONLY"),
                           Index("by_seller_updated", "seller_id", "updated_key")))

FULFILLMENT_ORDERS = Table("fulfillment-orders", "FulfillmentOrders", "FULFILLMENT_ORDERS_TABLE",
                           "Multi-Channel Fulfillment orders sent to Amazon, and what Amazon says of them",
                           hash_key="seller_id", range_key="fulfillment_order_id",
                           # Sparse: orders whose creation or cancellation is still on its way (the sweep).
                           indexes=(Index("by_pending", "pending_seller", "fulfillment_order_id",
                                          projection="KEYS_ONLY"),))

INVOICES = Table("invoices", "Invoices", "INVOICES_TABLE",
                 "sellers' profiles, invoice numbering, issued invoices and credit notes (kept: tax law)",
                 hash_key="pk", range_key="sk",
                 indexes=(Index("by_seller_issued", "seller_id", "issued_key"),
                          # Sparse: documents Amazon has not accepted yet, by their upload deadline.
                          Index("by_open", "open_seller", "deadline_key", projection="KEYS_ONLY")))

STOCK = Table("stock", "Stock", "STOCK_TABLE",
              "the stock ledger per seller and SKU, its balances, and the quantities sent to Amazon",
              hash_key="pk", range_key="sk",
              # Sparse and keys only: the lists of GET /stock and the SKUs whose quantity Amazon must get.
              indexes=(Index("by_seller", "listed_seller", "sku", projection="KEYS_ONLY"),
                       Index("by_state", "state_seller", "sku", projection="KEYS_ONLY"),
                       Index("by_reorder", "reorder_seller", "sku", projection="KEYS_ONLY"),
                       Index("by_oversold", "oversold_seller", "sku", projection="KEYS_ONLY"),
                       Index("by_push", "push_seller", "push_key", projection="KEYS_ONLY")))

SETTLEMENTS = Table("settlements", "Settlements", "SETTLEMENTS_TABLE",
                    "Amazon's settlements reconciled, their journals, what each order was paid (kept: books)",
                    hash_key="pk", range_key="sk")

TABLES: tuple[Table, ...] = (ORDERS, BUYER_DATA, STATE, SHIPMENTS, FULFILLMENT_ORDERS, INVOICES, STOCK, SETTLEMENTS)


# ---------------------------------------------------------------------------------- the rest

@dataclass(frozen=True)
class Named:
    """A resource known by one name: its CloudFormation id, its stack output, its variable."""

    logical_id: str
    output: str
    env: str
    holds: str
    pattern: str  # its physical name, with {stage} (and {account} for the bucket)

    def name(self, stage: str, account: str = "") -> str:
        return self.pattern.format(stage=stage, account=account, prefix=PREFIX)


INVOICE_BUCKET = Named("InvoiceBucket", "InvoiceBucketName", "INVOICE_BUCKET",
                       "issued invoices and Amazon's settlement files: tax law requires keeping them",
                       "{prefix}-{stage}-invoices-{account}")
DATA_KEY = Named("DataKey", "DataKeyArn", "DATA_KEY_ID", "encrypts the tables, the bucket and the secret",
                 "alias/{prefix}-{stage}")
SPAPI_SECRET = Named("SpApiSecret", "SpApiSecretName", "SPAPI_SECRET_ID",
                     "SP-API credentials and the sellers' refresh tokens", "{prefix}/{stage}/spapi")
API_TOKEN_HASH = Named("ApiTokenHash", "ApiTokenHashParameterName", "API_TOKEN_HASH_PARAMETER",
                       "the API token's hash", "/{prefix}/{stage}/api-token-hash")
# Alarms (dead letters, queues falling behind) and, with the flows, the seller's alerts. Its
# subscriptions are the seller's (the stack's AlertEmail parameter, or any SNS subscription).
ALERTS_TOPIC = Named("AlertsTopic", "AlertsTopicArn", "ALERTS_TOPIC_ARN",
                     "alarms (dead letters, queues falling behind) and ship-by alerts",
                     "{prefix}-{stage}-alerts")
PAGE_TOKEN_KEY = Named("PageTokenKey", "PageTokenKeyParameterName", "PAGE_TOKEN_KEY_PARAMETER",
                       "the key that seals the API's page tokens", "/{prefix}/{stage}/page-token-key")


# ---------------------------------------------------------------------------------- outputs → environment

def stage_environment(outputs: dict[str, str], stage: str) -> dict[str, str]:
    """The environment the functions read, from the stack's outputs (deploy, the local stack
    and the command-line tools all use this one mapping)."""
    wanted = dict(output_variables())
    missing = sorted(output for output in wanted if output not in outputs)
    if missing:
        raise KeyError(f"the stack has no output {', '.join(missing)}: is infra/template.yaml current?")
    env = {variable: outputs[output] for output, variable in wanted.items()}
    env["SELLEROPS_STAGE"] = stage
    return env


def output_variables() -> list[tuple[str, str]]:
    """(stack output, environment variable), for every resource the functions read."""
    pairs = [(table.output, table.env) for table in TABLES]
    for q in QUEUES:
        pairs += [(f"{q.stem}QueueUrl", q.url_env), (f"{q.stem}DeadLetterQueueUrl", q.dlq_url_env)]
    pairs += [(r.output, r.env) for r in (INVOICE_BUCKET, DATA_KEY, SPAPI_SECRET, API_TOKEN_HASH, PAGE_TOKEN_KEY,
                                          ALERTS_TOPIC)]
    return pairs
