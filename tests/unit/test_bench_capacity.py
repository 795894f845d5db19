"""The cost benchmark's meter (bench/capacity.py) bills as DynamoDB's pricing page says."""
from bench.capacity import CapacityMeter, item_size

ORDERS = "sellerops-test-orders"


def _order(status: str, updated: str, padding: int = 0) -> dict:
    return {"order_id": {"S": "305-1"}, "seller_id": {"S": "S1"},
            "updated_key": {"S": f"{updated}#305-1"}, "status": {"S": status}, "details": {"S": "x" * padding}}


def test_an_item_s_size_is_its_names_and_values():
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"n": {"N": "12345"}, "b": {"BOOL": True}}) == 1 + 4 + 1 + 1
    assert item_size({"m": {"M": {"k": {"S": "v"}}}, "l": {"L": [{"S": "v"}]}}) == (1 + 3 + 1 + 1 + 1) + (1 + 3 + 1 + 1)


def test_a_write_pays_per_started_kb_of_the_larger_item_and_a_transaction_twice():
    meter = CapacityMeter()
    small, large = _order("PENDING", "t1"), _order("PENDING", "t1", padding=2500)
    meter.write(ORDERS, small, large, transactional=False)
    assert meter.wru[ORDERS] == 3
    meter.write(ORDERS, large, small, transactional=True)
    assert meter.wru[ORDERS] == 3 + 6


def test_a_changed_index_key_is_a_delete_and_a_put_and_a_refused_write_touches_no_index():
    meter = CapacityMeter()
    before, after = _order("PENDING", "t1", padding=1500), _order("UNSHIPPED", "t2", padding=1500)
    meter.write(ORDERS, before, after, transactional=False)
    # the list index's key changes: it deletes the old entry and puts the new one, of the keys
    # and the included attributes only (well under a KB), whatever the row's size; the
    # sparse ship-by index, whose key the order has not, is not written
    assert meter.wru[f"{ORDERS} by_seller_listed"] == 2 and f"{ORDERS} by_ship_by" not in meter.wru
    meter.write(ORDERS, after, after, transactional=False)  # its condition failed: the table pays, no index
    assert meter.wru[ORDERS] == 4 and meter.wru[f"{ORDERS} by_seller_listed"] == 2


def test_a_write_that_changes_nothing_an_index_holds_does_not_write_it():
    meter = CapacityMeter()
    before = _order("UNSHIPPED", "t2", padding=100)
    meter.write(ORDERS, before, {**before, "details": {"S": "y" * 1500}}, transactional=False)
    assert meter.wru[ORDERS] == 2
    assert not any(" " in name for name in meter.wru)


def test_reads_pay_per_4_kb_and_eventually_consistent_ones_half():
    meter = CapacityMeter()
    meter.read(ORDERS, [_order("PENDING", "t1", padding=5000)], consistent=True, per_item=True)
    meter.read(ORDERS, [None], consistent=False, per_item=True)  # not found still costs
    meter.read(ORDERS, [_order("PENDING", "t1", padding=1000)] * 3, consistent=False, per_item=False)
    assert meter.rru_by_table[ORDERS] == 2 + 0.5 + 0.5
