"""One least-privilege IAM role per Lambda function (Chalice's per-function `iam_policy_file`).

    python -m infra.policy --stage NAME     # writes .chalice/policy-NAME-<function>.json

Chalice's automatic policy sees only `boto3.client` calls in app.py, so `autogen_policy` is false
and every function of every stage has its own policy file, generated here from two tables:
UNITS (each adapter of the code, the sites of its AWS calls and the statements that grant them)
and FUNCTIONS (each Lambda function and the units it runs). The API handler and the authorizer
read no SP-API credentials and no buyer data (KMS only through DynamoDB and SSM); the intake
holds no SP-API credentials; each schedule does its one job.

It grants exactly what each function calls: tests/unit/test_iam_policy.py finds every AWS call
of app.py and chalicelib/ and fails on a call outside every unit, on a call a function's policy
does not grant, and on a grant the function does not use; the local stack (infra/local/
guard.py) refuses, as AWS would, any call a running function's policy does not grant, so every
replay, demo and end-to-end test proves the functions stay within their roles. On the
resources infra/template.yaml names for the stage:

- DynamoDB: per table, only the item operations the unit makes (PynamoDB builds its table
  metadata locally: no DescribeTable); queries through the named indexes.
- SQS: what Lambda's event source mapping does with the function's role on its own queue,
  SendMessage on the queues tasks travel on, GetQueueAttributes on every queue (/health).
- KMS: GenerateDataKey and Decrypt of buyer data's data keys (the task functions only); Decrypt
  through DynamoDB, Secrets Manager and SSM, which decrypt what the data key encrypts on the
  caller's behalf (kms:ViaService).
- Secrets Manager: the SP-API secret. SSM: the API token hash, the page-token key.
- CloudWatch Logs: the function's log group.

`make deploy` writes the files narrowed to the stack's region and account; the committed dev
files (read by `chalice package` and the tests) use "*" for both.

python-amazon-sp-api makes no AWS call (credentials are passed to it explicitly) and Powertools
writes logs and metrics to stdout (EMF), so neither needs a grant.
"""
from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import registry, resources

PROJECT_DIR = Path(__file__).resolve().parent.parent

# The same rule as the Stage parameter of infra/template.yaml. It also keeps wildcards and ARN
# separators out of the resource names built from the stage.
STAGE_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
STAGE_MAX_LENGTH = 20

ORDERS_INDEXES = tuple(index.name for index in resources.ORDERS.indexes)
CONSUMED_QUEUES = tuple(q.suffix for q in resources.QUEUES)  # app.py's on_sqs_message handlers
# Tasks are sent to the queues some flow's task kinds travel on (chalicelib/registry.py).
TASK_QUEUES = tuple(sorted({task.queue for task in registry.TASK_KINDS.values()}))
DEAD_LETTER_QUEUES = tuple(f"{q.suffix}-dlq" for q in resources.QUEUES)

_REGION = re.compile(r"^(\*|[a-z]{2}(-[a-z]+)+-\d)$")
_ACCOUNT = re.compile(r"^(\*|\d{12})$")


def _check(stage: str, region: str, account: str, partition: str) -> None:
    if not re.fullmatch(STAGE_PATTERN, stage) or len(stage) > STAGE_MAX_LENGTH:
        raise ValueError(f"stage {stage!r}: use lowercase letters, digits and hyphens (at most "
                         f"{STAGE_MAX_LENGTH}), not starting or ending with a hyphen")
    if not _REGION.match(region):
        raise ValueError(f"region {region!r} is not a region name (or '*')")
    if not _ACCOUNT.match(account):
        raise ValueError(f"account {account!r} is not a 12-digit account id (or '*')")
    if partition not in ("aws", "aws-cn", "aws-us-gov"):
        raise ValueError(f"unknown partition {partition!r}")


def _statement(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions,
                                 "Resource": resources[0] if len(resources) == 1 else resources}
    if condition:
        statement["Condition"] = condition
    return statement


@dataclass(frozen=True)
class Unit:
    """Code whose AWS calls one set of grants covers: where the detector finds its calls (a file
    and the qualified names they start with) and the statements that grant them."""

    sites: tuple[str, ...]  # "path:QualifiedName" prefixes, as tests/unit/test_iam_policy.py reports sites
    statements: Callable[[_Names], list[dict[str, Any]]]


@dataclass(frozen=True)
class _Names:
    stage: str
    prefix: str
    region: str
    account: str
    partition: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def table(self, name: str) -> str:
        return self.arn("dynamodb", f"table/{self.prefix}-{name}")

    def queue(self, name: str) -> str:
        return self.arn("sqs", f"{self.prefix}-{name}")

    def invoices(self) -> str:
        """The invoice bucket's objects (its name ends with the account id)."""
        return f"arn:{self.partition}:s3:::{self.prefix}-invoices-{self.account}/*"

    def settlement_files(self) -> str:
        """Amazon's settlement files, in the same bucket under settlements/."""
        return f"arn:{self.partition}:s3:::{self.prefix}-invoices-{self.account}/settlements/*"

    def parameter(self, name: str) -> str:
        return self.arn("ssm", f"parameter/sellerops/{self.stage}/{name}")


GET, PUT, UPDATE, DELETE, QUERY = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                   "dynamodb:DeleteItem", "dynamodb:Query")
BATCH_GET, BATCH_WRITE = "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"

# Each adapter, and what it may do. The detector (tests/unit/test_iam_policy.py) finds every AWS
# call of the deployed code at its site; each site belongs to a unit; each unit's statements grant
# exactly its calls.
UNITS: dict[str, Unit] = {
    # Every function keeps state in the state table (failures, rate limits, watermarks, tokens).
    "state": Unit(("chalicelib/core/state.py:DynamoState.",),
                  lambda n: [_statement("StateTable", [GET, UPDATE, QUERY], [n.table("state")])]),
    "orders-read": Unit(("chalicelib/flows/orders/store.py:DynamoOrders.get",
                         "chalicelib/flows/orders/store.py:DynamoOrders.list"),
                        lambda n: [_statement("OrdersTable", [GET], [n.table("orders")]),
                                   _statement("OrdersIndexes", [QUERY], [f"{n.table('orders')}/index/{index}"
                                                                         for index in ORDERS_INDEXES])]),
    "orders-write": Unit(tuple(f"chalicelib/flows/orders/store.py:DynamoOrders.{method}" for method in (
                         "get", "apply_change", "add_to_timeline", "save_details", "needs_attention", "mark_read")),
                         lambda n: [_statement("OrdersTable", [GET, UPDATE], [n.table("orders")])]),
    # Merchant orders Amazon waits for, by latest ship date (the ship-by alerts, /shipments/due, /health).
    "orders-due": Unit(("chalicelib/flows/orders/store.py:DynamoOrders.due",
                        "chalicelib/flows/orders/store.py:DynamoOrders.count_due"),
                       lambda n: [_statement("OrdersDue", [QUERY], [f"{n.table('orders')}/index/by_ship_by"])]),
    "orders-many": Unit(("chalicelib/flows/orders/store.py:DynamoOrders.read_many",
                         "chalicelib/flows/orders/store.py:DynamoOrders.stored_together"),
                        lambda n: [_statement("OrdersTogether", [BATCH_GET], [n.table("orders")])]),
    # The ship-by alerts sent for an order (at most once per threshold).
    "orders-alerted": Unit(("chalicelib/flows/orders/store.py:DynamoOrders.mark_alerted",
                            "chalicelib/flows/orders/store.py:DynamoOrders.unmark_alerted"),
                           lambda n: [_statement("OrdersAlerted", [UPDATE], [n.table("orders")])]),
    # Buyer data in clear: sealed and opened under data keys of the data key (KMS, directly).
    "buyer-data": Unit(("chalicelib/flows/orders/store.py:DynamoBuyerData.save",
                        "chalicelib/flows/orders/store.py:DynamoBuyerData.get",
                        "chalicelib/core/datakeys.py:DataKeys."),
                       lambda n: [_statement("BuyerData", [GET, PUT], [n.table("buyer-data")]),
                                  _statement("BuyerDataKeys", ["kms:GenerateDataKey", "kms:Decrypt"],
                                             [n.arn("kms", "key/*")], _alias(n))]),
    # Buyer data's expiry and deletion: never its content (no KMS).
    "buyer-data-expiry": Unit(("chalicelib/flows/orders/store.py:DynamoBuyerData.shorten",
                               "chalicelib/flows/orders/store.py:DynamoBuyerData._delete",
                               "chalicelib/flows/orders/store.py:DynamoBuyerData.purge"),
                              lambda n: [_statement("BuyerDataExpiry", [UPDATE, DELETE], [n.table("buyer-data")]),
                                         _statement("BuyerDataByExpiry", [QUERY],
                                                    [f"{n.table('buyer-data')}/index/by_expiry"])]),
    # The shipments flow: an order's shipments, one item per order, changed by conditional writes.
    "shipments": Unit(("chalicelib/flows/shipments/store.py:DynamoShipments.get",
                       "chalicelib/flows/shipments/store.py:DynamoShipments.save"),
                      lambda n: [_statement("ShipmentsTable", [GET, UPDATE], [n.table("shipments")])]),
    "shipments-read": Unit(("chalicelib/flows/shipments/store.py:DynamoShipments.get",),
                           lambda n: [_statement("ShipmentsTable", [GET], [n.table("shipments")])]),
    "shipments-pending": Unit(("chalicelib/flows/shipments/store.py:DynamoShipments.pending",),
                              lambda n: [_statement("ShipmentsPending", [QUERY],
                                                    [f"{n.table('shipments')}/index/by_pending"])]),
    "shipments-list": Unit(("chalicelib/flows/shipments/store.py:DynamoShipments.list",),
                           lambda n: [_statement("ShipmentsBySeller", [QUERY],
                                                 [f"{n.table('shipments')}/index/by_seller_updated"])]),
    # /health counts pending and refused shipments (a COUNT query on each sparse index).
    "shipments-counts": Unit(("chalicelib/flows/shipments/store.py:DynamoShipments.counts",),
                             lambda n: [_statement("ShipmentsCounts", [QUERY],
                                                   [f"{n.table('shipments')}/index/{index}"
                                                    for index in ("by_pending", "by_attention")])]),
    "shipments-many": Unit(("chalicelib/flows/shipments/store.py:DynamoShipments.read_many",),
                           lambda n: [_statement("ShipmentsTogether", [BATCH_GET], [n.table("shipments")])]),
    # The seller's alerts. The data key encrypts the topic: publishing uses it through SNS.
    "alerts": Unit(("chalicelib/core/alerts.py:SnsAlerts.publish",),
                   lambda n: [_statement("PublishAlerts", ["sns:Publish"], [n.arn("sns", f"{n.prefix}-alerts")]),
                              _statement("AlertsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"],
                                         [n.arn("kms", "key/*")],
                                         {**_alias(n), "StringLike": {"kms:ViaService": [
                                             f"sns.{n.region}.amazonaws.com" if n.region != "*"
                                             else "sns.*.amazonaws.com"]}})]),
    # Multi-Channel Fulfillment orders: one item each, changed by conditional writes.
    "fulfillment": Unit(("chalicelib/flows/fulfillment/store.py:DynamoFulfillmentOrders.get",
                         "chalicelib/flows/fulfillment/store.py:DynamoFulfillmentOrders.save"),
                        lambda n: [_statement("FulfillmentOrdersTable", [GET, UPDATE],
                                              [n.table("fulfillment-orders")])]),
    "fulfillment-read": Unit(("chalicelib/flows/fulfillment/store.py:DynamoFulfillmentOrders.get",),
                             lambda n: [_statement("FulfillmentOrdersTable", [GET], [n.table("fulfillment-orders")])]),
    "fulfillment-pending": Unit(("chalicelib/flows/fulfillment/store.py:DynamoFulfillmentOrders.pending",
                                 "chalicelib/flows/fulfillment/store.py:DynamoFulfillmentOrders.count_pending"),
                                lambda n: [_statement("FulfillmentOrdersPending", [QUERY],
                                                      [f"{n.table('fulfillment-orders')}/index/by_pending"])]),
    # An MCF order's recipient, sealed as buyer data is, by the API handler that receives it
    # (it seals, never opens: GenerateDataKey only).
    "recipient-seal": Unit(("chalicelib/flows/orders/store.py:DynamoBuyerData.seal_new",
                            "chalicelib/core/datakeys.py:DataKeys.seal", "chalicelib/core/datakeys.py:DataKeys._key"),
                           # Only items of MCF recipients (never an Amazon order's buyer data).
                           lambda n: [_statement("RecipientData", [PUT], [n.table("buyer-data")],
                                                 {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["mcf:*"]}}),
                                      _statement("RecipientDataKeys", ["kms:GenerateDataKey"],
                                                 [n.arn("kms", "key/*")], _alias(n))]),
    # Invoices: numbering (one transaction: the series' counter, the document, the claim), the
    # orders that wait for a profile; documents are never deleted (no DeleteItem on them: the only
    # delete is of a waiting mark, keyed waiting#...).
    "invoices-issue": Unit(tuple(f"chalicelib/flows/invoices/store.py:DynamoInvoices.{m}" for m in (
                           "profile", "mark_waiting", "clear_waiting", "claims", "get", "allocate", "_claimed",
                           "refunds_of")),
                           lambda n: [_statement("InvoicesTable", [GET, PUT, UPDATE, QUERY], [n.table("invoices")]),
                                      _statement("InvoicesWaiting", [DELETE], [n.table("invoices")], {
                                          "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["waiting#*"]}})]),
    # Drawing a document: its PDF written once, locked, encrypted by S3 under the data key.
    "invoices-render": Unit(("chalicelib/flows/invoices/store.py:DynamoInvoices.get",
                             "chalicelib/flows/invoices/store.py:DynamoInvoices.profile",
                             "chalicelib/flows/invoices/store.py:DynamoInvoices.rendered",
                             "chalicelib/flows/invoices/store.py:S3Archive.put"),
                            lambda n: [_statement("InvoicesTable", [GET, UPDATE], [n.table("invoices")]),
                                       _statement("InvoicePdfs", ["s3:PutObject", "s3:PutObjectRetention",
                                                                  "s3:GetObject"], [n.invoices()]),
                                       _via_s3("InvoicePdfKey", n, ["kms:GenerateDataKey", "kms:Decrypt"])]),
    # Uploading to Amazon: the PDF read back, the upload's state, the feed → document map, refunds.
    "invoices-upload": Unit(tuple(f"chalicelib/flows/invoices/store.py:DynamoInvoices.{m}" for m in (
                            "get", "set_upload", "put_feed", "feed_number", "save_refund")) + (
                            "chalicelib/flows/invoices/store.py:S3Archive.get",),
                            lambda n: [_statement("InvoicesTable", [GET, PUT, UPDATE], [n.table("invoices")]),
                                       _statement("InvoicePdfsRead", ["s3:GetObject"], [n.invoices()]),
                                       _via_s3("InvoicePdfKeyRead", n, ["kms:Decrypt"])]),
    # POST /invoices/{number}/upload: the upload's state, moved on.
    "invoices-resend": Unit(("chalicelib/flows/invoices/store.py:DynamoInvoices.set_upload",),
                            lambda n: [_statement("InvoicesTable", [UPDATE], [n.table("invoices")])]),
    "invoices-read": Unit(tuple(f"chalicelib/flows/invoices/store.py:DynamoInvoices.{m}" for m in (
                          "profile", "get", "claims", "list", "count_waiting", "count_open")) + (
                          "chalicelib/flows/invoices/store.py:S3Archive.url",),
                          lambda n: [_statement("InvoicesTable", [GET, QUERY], [n.table("invoices")]),
                                     _statement("InvoicesIndexes", [QUERY],
                                                [f"{n.table('invoices')}/index/{index}"
                                                 for index in ("by_seller_issued", "by_open")]),
                                     # The presigned links to the PDFs are signed with this role.
                                     _statement("InvoicePdfLinks", ["s3:GetObject"], [n.invoices()]),
                                     _via_s3("InvoicePdfKeyRead", n, ["kms:Decrypt"])]),
    "invoices-profile": Unit(("chalicelib/flows/invoices/store.py:DynamoInvoices.save_profile",
                              "chalicelib/flows/invoices/store.py:DynamoInvoices.waiting_orders"),
                             lambda n: [_statement("InvoicesTable", [PUT, QUERY], [n.table("invoices")])]),
    "invoices-sweep": Unit(tuple(f"chalicelib/flows/invoices/store.py:DynamoInvoices.{m}" for m in (
                           "profile", "waiting_orders", "open_numbers", "get")),
                           lambda n: [_statement("InvoicesTable", [GET, QUERY], [n.table("invoices")]),
                                      _statement("InvoicesOpen", [QUERY], [f"{n.table('invoices')}/index/by_open"])]),
    # Stock: every movement is one transaction on the stock table (the balance on its version,
    # the entries and the order item only if new); feeds and imports are records of their own.
    "stock-write": Unit(tuple(f"chalicelib/flows/stock/store.py:DynamoStock.{m}" for m in (
                        "get", "write", "item", "save_feed", "feed", "update_feed", "imported",
                        "remember_import", "free_feed_slot")),
                        lambda n: [_statement("StockTable", [GET, BATCH_GET, PUT, UPDATE], [n.table("stock")])]),
    "stock-read": Unit(tuple(f"chalicelib/flows/stock/store.py:DynamoStock.{m}" for m in ("get", "page")),
                       lambda n: [_statement("StockTable", [GET, BATCH_GET], [n.table("stock")]),
                                  _statement("StockLists", [QUERY], [f"{n.table('stock')}/index/{index}" for index in
                                                                     ("by_seller", "by_state", "by_reorder",
                                                                      "by_oversold")])]),
    "stock-push": Unit(tuple(f"chalicelib/flows/stock/store.py:DynamoStock.{m}" for m in (
                       "waiting_push", "feed_slot")),
                       lambda n: [_statement("StockWaiting", [QUERY], [f"{n.table('stock')}/index/by_push"]),
                                  _statement("StockFeedSlot", [UPDATE], [n.table("stock")])]),
    "stock-counts": Unit(("chalicelib/flows/stock/store.py:DynamoStock.counts",),
                         lambda n: [_statement("StockCounts", [QUERY], [f"{n.table('stock')}/index/{index}" for index
                                                                        in ("by_state", "by_reorder", "by_oversold",
                                                                            "by_push")])]),
    # Settlements: a file archived once and its settlement claimed (an upload, a report fetched).
    "settlements-import": Unit(("chalicelib/flows/settlements/store.py:DynamoSettlements.claim",
                                "chalicelib/flows/settlements/store.py:DynamoSettlements.get",
                                "chalicelib/flows/settlements/store.py:SettlementFiles.put"),
                               lambda n: [_statement("SettlementsTable", [GET, PUT], [n.table("settlements")]),
                                          _statement("SettlementFiles", ["s3:PutObject"], [n.settlement_files()]),
                                          _via_s3("SettlementFilesKey", n, ["kms:GenerateDataKey"])]),
    "settlements-read": Unit(tuple(f"chalicelib/flows/settlements/store.py:DynamoSettlements.{m}" for m in (
                             "get", "list", "reports", "mapping", "payments_of")),
                             lambda n: [_statement("SettlementsTable", [GET, QUERY], [n.table("settlements")])]),
    "settlements-mapping": Unit(("chalicelib/flows/settlements/store.py:DynamoSettlements.save_mapping",),
                                lambda n: [_statement("SettlementsMapping", [PUT], [n.table("settlements")], {
                                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["mapping#*"]}})]),
    # Amazon's reports noted once each (the gap ledger), and marked imported.
    "settlements-reports": Unit(tuple(f"chalicelib/flows/settlements/store.py:DynamoSettlements.{m}" for m in (
                                "note_report", "noted_report", "report_imported")),
                                lambda n: [_statement("SettlementReports", [GET, PUT], [n.table("settlements")], {
                                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["report#*"]}})]),
    # Reconciling: the file read back, the settlement moved on, what each order was paid.
    "settlements-reconcile": Unit(tuple(f"chalicelib/flows/settlements/store.py:DynamoSettlements.{m}" for m in (
                                  "get", "settle", "post", "save_payments", "mapping", "list")) + (
                                  "chalicelib/flows/settlements/store.py:SettlementFiles.lines",),
                                  lambda n: [_statement("SettlementsTable", [GET, PUT, UPDATE, QUERY, BATCH_WRITE],
                                                        [n.table("settlements")]),
                                             _statement("SettlementFilesRead", ["s3:GetObject"],
                                                        [n.settlement_files()]),
                                             _via_s3("SettlementFilesKeyRead", n, ["kms:Decrypt"])]),
    # What the matching reads of the invoices flow: the documents issued since a date.
    "invoices-list": Unit(("chalicelib/flows/invoices/store.py:DynamoInvoices.list",),
                          lambda n: [_statement("InvoicesIssued", [QUERY],
                                                [f"{n.table('invoices')}/index/by_seller_issued"])]),
    # SendMessageBatch is authorized by sqs:SendMessage.
    "send-tasks": Unit(("chalicelib/core/queues.py:SqsTaskQueue.flush",),
                       lambda n: [_statement("QueueTasks", ["sqs:SendMessage"],
                                             [n.queue(name) for name in TASK_QUEUES])]),
    "queue-depths": Unit(("chalicelib/core/queues.py:queue_depths",),
                         lambda n: [_statement("QueueDepths", ["sqs:GetQueueAttributes"],
                                               [n.queue(name) for name in (*CONSUMED_QUEUES, *DEAD_LETTER_QUEUES)])]),
    # Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
    "sp-api": Unit(("chalicelib/core/spapi.py:SecretCredentials.",),
                   lambda n: [_statement("SpApiCredentials", ["secretsmanager:GetSecretValue"],
                                         [n.arn("secretsmanager", f"secret:sellerops/{n.stage}/spapi-??????")])]),
    "api-token": Unit(("chalicelib/core/auth.py:_stored_hash",),
                      lambda n: [_statement("ApiTokenHash", ["ssm:GetParameter"], [n.parameter("api-token-hash")])]),
    "page-token": Unit(("chalicelib/core/pages.py:_key",),
                       lambda n: [_statement("PageTokenKey", ["ssm:GetParameter"], [n.parameter("page-token-key")])]),
}

# Each Lambda function of app.py and the units it runs. The API handler and the authorizer read
# no SP-API credentials and no buyer data; the intake calls no Amazon; a schedule does its one job.
FUNCTIONS: dict[str, tuple[str, ...]] = {
    # The API handler records shipments and queues their confirmation (shipments:write).
    "api_handler": ("state", "orders-read", "queue-depths", "page-token", "shipments", "send-tasks",
                    "shipments-counts", "shipments-list", "orders-due", "orders-many", "shipments-many",
                    "fulfillment", "recipient-seal", "fulfillment-pending", "invoices-read", "invoices-profile",
                    "invoices-resend", "stock-write", "stock-read", "stock-counts", "settlements-import",
                    "settlements-read", "settlements-mapping"),
    "bearer_token": ("state", "api-token"),
    "intake": ("state", "orders-write", "buyer-data-expiry", "send-tasks", "fulfillment", "stock-write",
               "settlements-reports"),
    # The search door reads a page's orders together (orders-many).
    "tasks": ("state", "orders-write", "orders-many", "buyer-data", "buyer-data-expiry", "send-tasks", "sp-api",
              "shipments", "fulfillment", "invoices-issue", "invoices-upload", "stock-write", "settlements-reports"),
    "work": ("state", "orders-write", "buyer-data", "buyer-data-expiry", "send-tasks", "sp-api", "invoices-render",
             "invoices-upload", "stock-write", "stock-push", "settlements-import", "settlements-reports",
             "settlements-reconcile", "invoices-list"),
    "poll_orders": ("state", "send-tasks"),
    "purge_buyer_data": ("state", "buyer-data-expiry"),
    "sweep_shipments": ("state", "shipments-read", "shipments-pending", "send-tasks"),
    "alert_ship_by": ("state", "orders-due", "orders-alerted", "alerts"),
    "sweep_fulfillment": ("state", "fulfillment-read", "fulfillment-pending", "send-tasks"),
    "sweep_invoices": ("state", "invoices-sweep", "send-tasks"),
    "push_stock": ("state", "stock-push", "send-tasks"),
    "reconcile_stock": ("state", "send-tasks"),
    "list_settlements": ("state", "send-tasks", "settlements-read"),
}
CONSUMERS = {q.handler: q.suffix for q in resources.QUEUES}  # app.py's on_sqs_message handlers


def role_name(stage: str, function: str) -> str:
    """The function's IAM role: Chalice's name for it (`chalice deploy`), which infra/package.py
    gives the packaged roles too, so that the key policy can name them."""
    return f"sellerops-{stage}-{function}"


def direct_key_users() -> tuple[str, ...]:
    """The functions that use the data key themselves, not through a service (they seal buyer
    data): the key policy (infra/template.py) lets only their roles do so."""
    def direct(statement: dict[str, Any]) -> bool:
        return (any(action.startswith("kms:") for action in statement["Action"])
                and "kms:ViaService" not in json.dumps(statement.get("Condition") or {}))

    return tuple(f for f in FUNCTIONS if any(direct(st) for st in policy_document("dev", f)["Statement"]))


def function_names(stage: str, function: str) -> tuple[str, str]:
    """(Chalice's name of the function, the logical id `chalice package` gives it)."""
    from chalice.utils import to_cfn_resource_name

    if function == "api_handler":
        return f"sellerops-{stage}", "APIHandler"
    return f"sellerops-{stage}-{function}", to_cfn_resource_name(function)


def _via_s3(sid: str, n: _Names, actions: list[str]) -> dict[str, Any]:
    """The data key, used by S3 on the caller's behalf (SSE-KMS of the invoice bucket)."""
    return _statement(sid, actions, [n.arn("kms", "key/*")],
                      {**_alias(n), "StringLike": {"kms:ViaService": [
                          f"s3.{n.region}.amazonaws.com" if n.region != "*" else "s3.*.amazonaws.com"]}})


def _alias(n: _Names) -> dict[str, Any]:
    # The key's id is made by CloudFormation, so the resource is any key of the account and
    # region (an unavoidable wildcard), narrowed by the condition to the key that carries the
    # stage's alias, the alias the code and infra/template.yaml use.
    return {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{n.prefix}"}}


def policy_document(stage: str, function: str, region: str = "*", account: str = "*", *,
                    partition: str = "aws") -> dict[str, Any]:
    """The policy of one Lambda function of `stage`. `region` and `account` default to "*" (the
    committed files, written before any stack exists); `make deploy` writes them narrowed to
    the stack's region and account."""
    _check(stage, region, account, partition)
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}: infra/policy.py FUNCTIONS lists {', '.join(FUNCTIONS)}")
    n = _Names(stage, f"sellerops-{stage}", region, account, partition)
    chalice_name, logical_id = function_names(stage, function)
    # Chalice names the function `chalice_name`; in a SAM deployment of `chalice package`,
    # CloudFormation names it `<stack>-<LogicalId>-<suffix>`, with the stack named
    # sellerops-<stage>: its name is not known before deployment, hence the wildcard there.
    groups = [f"/aws/lambda/{chalice_name}", f"/aws/lambda/{n.prefix}-{logical_id}-*"]
    statements = [
        _statement("CreateLogGroup", ["logs:CreateLogGroup"], [n.arn("logs", f"log-group:{g}") for g in groups]),
        # `:*` stands for the log streams, which Lambda names at run time.
        _statement("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                   [n.arn("logs", f"log-group:{g}:*") for g in groups]),
    ]
    if function in CONSUMERS:
        # Lambda's event source mapping polls the function's queue with the function's role.
        statements.append(_statement("ConsumeQueue", ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                      "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
                                     [n.queue(CONSUMERS[function])]))
    for unit in FUNCTIONS[function]:
        statements += UNITS[unit].statements(n)
    # DynamoDB, Secrets Manager and SSM decrypt what the data key encrypts (the tables, the
    # secret, the SecureStrings) with the caller's permission: only through those services.
    services = sorted({action.split(":")[0] for st in statements for action in st["Action"]} & _VIA)
    if services:
        statements.append(_statement("DataKeyThroughServices", ["kms:Decrypt"], [n.arn("kms", "key/*")],
                                     {**_alias(n), "StringLike": {"kms:ViaService": [
                                         f"{service}.{region}.amazonaws.com" if region != "*" else
                                         f"{service}.*.amazonaws.com" for service in services]}}))
    return {"Version": "2012-10-17", "Statement": _merged(statements)}


_VIA = {"dynamodb", "secretsmanager", "ssm"}


def _merged(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements of the same Sid (two units granting on one table) as one."""
    by_sid: dict[str, dict[str, Any]] = {}
    for statement in statements:
        found = by_sid.get(statement["Sid"])
        if found is None:
            by_sid[statement["Sid"]] = json.loads(json.dumps(statement))
            continue
        assert found.get("Condition") == statement.get("Condition") and found["Resource"] == statement["Resource"], \
            f"two units grant {statement['Sid']} differently"
        found["Action"] = sorted(set(found["Action"]) | set(statement["Action"]))
    return list(by_sid.values())


def render(stage: str, function: str, region: str = "*", account: str = "*", partition: str = "aws") -> str:
    """A policy file's text: stable key order and layout, so regenerating it changes nothing."""
    return json.dumps(policy_document(stage, function, region, account, partition=partition), indent=2) + "\n"


def policy_file(stage: str, function: str) -> str:
    return f"policy-{stage}-{function}.json"


def policy_path(stage: str, function: str, project_dir: Path | str | None = None) -> Path:
    return Path(project_dir or PROJECT_DIR) / ".chalice" / policy_file(stage, function)


def write_policy_files(stage: str, project_dir: Path | str | None = None, *, region: str = "*",
                       account: str = "*", partition: str = "aws") -> list[Path]:
    """Write .chalice/policy-<stage>-<function>.json for every function (each function's
    `iam_policy_file`); return their paths."""
    paths = []
    for function in FUNCTIONS:
        path = policy_path(stage, function, project_dir)
        text = render(stage, function, region, account, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.policy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    for path in write_policy_files(args.stage):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
