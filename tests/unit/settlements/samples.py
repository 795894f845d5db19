"""Settlement reports as Amazon writes them (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2), in the
column order of Amazon's documentation: a US-style file and the same in a German account's formats."""
from __future__ import annotations

COLUMNS = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
           "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
           "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
           "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
           "quantity-purchased", "promotion-id")


def row(**cells: str) -> list[str]:
    return [cells.get(name.replace("-", "_"), "") for name in COLUMNS]


def order_rows(order_id: str, shipment: str, posted: str, price: str, tax: str, shipping: str, commission: str,
               fba: str, sku: str = "MUG-BLUE", settlement: str = "11795245201") -> list[list[str]]:
    base = {"settlement_id": settlement, "transaction_type": "Order", "order_id": order_id, "shipment_id": shipment,
            "marketplace_name": "Amazon.de", "fulfillment_id": "AFN", "posted_date": posted,
            "posted_date_time": posted + " 02:47:38 UTC", "order_item_code": "52986411826454", "sku": sku,
            "quantity_purchased": "1"}
    out = [row(**base, amount_type="ItemPrice", amount_description="Principal", amount=price),
           row(**base, amount_type="ItemPrice", amount_description="Tax", amount=tax)]
    if shipping:
        out.append(row(**base, amount_type="ItemPrice", amount_description="Shipping", amount=shipping))
    out += [row(**base, amount_type="ItemFees", amount_description="Commission", amount=commission),
            row(**base, amount_type="ItemFees", amount_description="FBAPerUnitFulfillmentFee", amount=fba)]
    return out


def refund_rows(order_id: str, adjustment: str, posted: str, price: str, tax: str, commission: str,
                settlement: str = "11795245201") -> list[list[str]]:
    base = {"settlement_id": settlement, "transaction_type": "Refund", "order_id": order_id,
            "adjustment_id": adjustment, "marketplace_name": "Amazon.de", "posted_date": posted, "sku": "MUG-BLUE"}
    return [row(**base, amount_type="ItemPrice", amount_description="Principal", amount=price),
            row(**base, amount_type="ItemPrice", amount_description="Tax", amount=tax),
            row(**base, amount_type="ItemFees", amount_description="RefundCommission", amount=commission)]


def other_row(description: str, amount: str, posted: str, transaction: str = "other-transaction",
              amount_type: str = "other-transaction", settlement: str = "11795245201") -> list[str]:
    return row(settlement_id=settlement, transaction_type=transaction, amount_type=amount_type,
               amount_description=description, amount=amount, posted_date=posted)


def text(rows: list[list[str]], total: str, start: str = "2026-11-20 18:03:49 UTC",
         end: str = "2026-12-04 18:03:49 UTC", deposit: str = "2026-12-06 18:03:49 UTC", currency: str = "EUR",
         settlement: str = "11795245201", header: tuple[str, ...] = COLUMNS) -> str:
    first = row(settlement_id=settlement, settlement_start_date=start, settlement_end_date=end,
                deposit_date=deposit, total_amount=total, currency=currency)
    return "\n".join("\t".join(cells) for cells in [list(header), first, *rows]) + "\n"


def example() -> str:
    """Two orders (one across the month end), a refund, storage, a reserve held and released."""
    rows = (order_rows("302-1111111-1111111", "DYmCJrqFL", "2026-11-28", "25.21", "4.79", "3.99", "-4.50", "-3.20")
            + order_rows("302-2222222-2222222", "Dkj8xPLrN", "2026-12-02", "16.81", "3.19", "", "-3.00", "-2.80")
            + refund_rows("302-1111111-1111111", "amzn1:crow:XyZ", "2026-12-03", "-25.21", "-4.79", "0.90")
            + [other_row("Storage Fee", "-12.34", "2026-12-01"),
               other_row("Previous Reserve Amount Balance", "40.00", "2026-11-20"),
               other_row("Current Reserve Amount", "-15.00", "2026-12-04")])
    return text(rows, total="24.05")
