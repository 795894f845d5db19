"""The SP-API notifications this deployment subscribes to, in one place.

`python -m infra.connect` subscribes every seller to these; the intake handler is where each
type is handled (a type without a handler yet is acknowledged and counted). Payload versions are
the ones in Amazon's notification schemas (the `PayloadVersion` of each schema's examples); Amazon
has no schema in that folder for ACCOUNT_STATUS_CHANGED, whose payload version is 1.0.

Amazon delivers each type through one channel only: the listings types through EventBridge (an
EventBridge rule in infra/template.yaml forwards them to the intake queue), the others to the
SQS intake queue directly.
"""
from __future__ import annotations

ORDER_CHANGE = "ORDER_CHANGE"
FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"
FULFILLMENT_ORDER_STATUS = "FULFILLMENT_ORDER_STATUS"
FBA_OUTBOUND_SHIPMENT_STATUS = "FBA_OUTBOUND_SHIPMENT_STATUS"
REPORT_PROCESSING_FINISHED = "REPORT_PROCESSING_FINISHED"
FEED_PROCESSING_FINISHED = "FEED_PROCESSING_FINISHED"
TRANSACTION_UPDATE = "TRANSACTION_UPDATE"
ANY_OFFER_CHANGED = "ANY_OFFER_CHANGED"
ACCOUNT_STATUS_CHANGED = "ACCOUNT_STATUS_CHANGED"
LISTINGS_ITEM_MFN_QUANTITY_CHANGE = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
LISTINGS_ITEM_STATUS_CHANGE = "LISTINGS_ITEM_STATUS_CHANGE"

SQS_TYPES: tuple[str, ...] = (
    ORDER_CHANGE,
    FBA_INVENTORY_AVAILABILITY_CHANGES,
    FULFILLMENT_ORDER_STATUS,
    FBA_OUTBOUND_SHIPMENT_STATUS,
    REPORT_PROCESSING_FINISHED,
    FEED_PROCESSING_FINISHED,
    TRANSACTION_UPDATE,
    ANY_OFFER_CHANGED,
    ACCOUNT_STATUS_CHANGED,
)
EVENTBRIDGE_TYPES: tuple[str, ...] = (
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE,
    LISTINGS_ITEM_STATUS_CHANGE,
)
ALL_TYPES: tuple[str, ...] = SQS_TYPES + EVENTBRIDGE_TYPES

PAYLOAD_VERSIONS: dict[str, str] = {
    ORDER_CHANGE: "1.0",
    FBA_INVENTORY_AVAILABILITY_CHANGES: "1.0",
    FULFILLMENT_ORDER_STATUS: "1.0",
    FBA_OUTBOUND_SHIPMENT_STATUS: "1.0",
    REPORT_PROCESSING_FINISHED: "2020-09-04",
    FEED_PROCESSING_FINISHED: "2020-09-04",
    TRANSACTION_UPDATE: "1.0",
    ANY_OFFER_CHANGED: "1.0",
    ACCOUNT_STATUS_CHANGED: "1.0",
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE: "1.0",
    LISTINGS_ITEM_STATUS_CHANGE: "1.0",
}

# The SP-API role an application needs before Amazon lets it subscribe a seller to each type
# (a missing role shows as a 403 on createSubscription). Reports and feeds are open to any role
# that can request them.
ROLES: dict[str, str] = {
    ORDER_CHANGE: "Inventory and Order Tracking",
    FBA_INVENTORY_AVAILABILITY_CHANGES: "Amazon Fulfillment",
    FULFILLMENT_ORDER_STATUS: "Amazon Fulfillment",
    FBA_OUTBOUND_SHIPMENT_STATUS: "Amazon Fulfillment",
    REPORT_PROCESSING_FINISHED: "any role that can request reports",
    FEED_PROCESSING_FINISHED: "any role that can submit feeds",
    TRANSACTION_UPDATE: "Finance and Accounting",
    ANY_OFFER_CHANGED: "Pricing",
    ACCOUNT_STATUS_CHANGED: "Selling Partner Insights",
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE: "Product Listing",
    LISTINGS_ITEM_STATUS_CHANGE: "Product Listing",
}

SQS = "sqs"
EVENTBRIDGE = "eventBridge"

# The AWS account from which SP-API delivers notifications to an SQS destination: the intake
# queue's policy must let it send.
SQS_SENDER_ACCOUNT = "437568002678"


def delivery(notification_type: str) -> str:
    """`sqs` or `eventBridge`: the only kind of destination Amazon delivers the type to."""
    if notification_type in SQS_TYPES:
        return SQS
    if notification_type in EVENTBRIDGE_TYPES:
        return EVENTBRIDGE
    raise KeyError(f"{notification_type} is not a notification type sellerops subscribes to")


def payload_version(notification_type: str) -> str:
    return PAYLOAD_VERSIONS[notification_type]
