"""A warehouse's CSV export: columns by name, EU spreadsheets, packages, problems by line."""
from chalicelib.flows.shipments import imports

GOOD = ("Order ID;SKU;Quantity;Carrier Code;Tracking Number;Ship Date\n"
        "028-1234567-1234567;MUG-RED;2;DHL;JD0001;2026-11-20T14:30:00Z\n"
        "028-1234567-1234567;MUG-BLUE;1;DHL;JD0001;2026-11-20T14:30:00Z\n"
        "028-7654321-7654321;MUG-RED;1;UPS;1Z999;2026-11-20T15:00:00+01:00\n")


def test_rows_of_one_order_and_tracking_number_are_one_package_whatever_the_header_spelling():
    packages, problems = imports.parse(GOOD)
    assert problems == []
    assert [(p.order_id, p.request.tracking_number, p.request.lines, p.line) for p in packages] == [
        ("028-1234567-1234567", "JD0001", ((None, "MUG-RED", 2), (None, "MUG-BLUE", 1)), 2),
        ("028-7654321-7654321", "1Z999", ((None, "MUG-RED", 1),), 4)]
    camel = ("orderId,orderItemId,quantity,carrierCode,trackingNumber,shipDate\n"
             "028-1234567-1234567,111,1,DHL,X1,2026-11-20T14:30:00Z\n")
    assert imports.parse(camel)[0][0].request.lines == (("111", None, 1),)


def test_every_problem_is_told_with_its_line_and_column_and_nothing_is_kept():
    bad = (GOOD + "nope;MUG-RED;0;DHL;JD0002;yesterday\n"
           + "028-1234567-1234567;MUG-RED;1;UPS;JD0001;2026-11-20T14:30:00Z\n")
    packages, problems = imports.parse(bad)
    assert packages == []
    found = {(p.line, p.column) for p in problems}
    assert {(5, "order_id"), (5, "quantity"), (5, "ship_date"), (6, "carrier_code")} <= found
    assert all(len(p.message) < 200 for p in problems)


def test_a_file_without_the_columns_or_rows_says_so():
    assert imports.parse("")[1][0].message.startswith("the file is empty")
    assert {p.column for p in imports.parse("order_id,quantity\n")[1]} >= {"carrier_code", "tracking_number"}
    assert imports.parse("order_id,sku,quantity,carrier_code,tracking_number,ship_date\n")[1][0].message == \
        "the file has no rows"
