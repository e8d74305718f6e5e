"""Identity rows are folded per load batch (assets/staging/load.compact_identity_rows): the same members and names
come out however the files are batched, and a file rejected as a whole adds nothing."""

import pytest

from assets.staging import load
from xiaoshuju.privacy import keyed_hash

HEADER = (
    "order_no,buyer_phone,buyer_id,buyer_wxid,buyer_name,created_at,paid_at,completed_at,status,items_amount,"
    "freight,discount_amount,paid_amount,refund_amount,seller_phone,seller_id,seller_name,order_type,product_name,"
    "quantity,unit_price,line_amount"
)
P, Q = "13800001111", "13700002222"  # made-up numbers


def _orders(*rows: tuple[str, str, str]) -> str:
    """Canonical orders CSV: (order_no, buyer phone, buyer name) per row."""
    body = [
        f"{no},{phone},,,{name},2024-10-07 10:00:00,2024-10-07 10:05:00,,paid,30.00,0,0,30.00,0,,,,,桃子,1,30.00,30.00"
        for no, phone, name in rows
    ]
    return HEADER + "\n" + "\n".join(body) + "\n"


@pytest.mark.parametrize("one_batch", [True, False], ids=["one batch", "a batch per file"])
def test_the_masked_name_most_files_show_wins_however_files_are_batched(home, monkeypatch, one_batch):
    """王小明 is on three orders of one file, 李四 on one order in each of two files: the most frequent masked name
    counts files (each file's own most frequent name once), so 李* wins — counting rows, or one row per batch, would
    give 王** (ties go to the greater value). A cut-off file that also shows 李四 and a phone seen nowhere else is
    rejected whole: it neither adds a file to 李* nor a member."""
    if not one_batch:
        monkeypatch.setattr(load, "BATCH_BYTES", 1)
    home.drop(
        "2024-10-07/canon/a.csv", _orders(("A-1", P, "王小明"), ("A-2", P, "王小明"), ("A-3", P, "王小明"))
    )
    home.drop("2024-10-08/canon/b.csv", _orders(("B-1", P, "李四")))
    home.drop("2024-10-09/canon/c.csv", _orders(("C-1", P, "李四")))
    home.drop("2024-10-09/canon/d.csv", _orders(("D-1", P, "李四"), ("D-2", Q, "赵六"))[:-3])
    home.run()

    assert [r[2] for r in home.quarantine()] == ["truncated"]
    p_key, q_key = (f"phone:{keyed_hash(v, home.key, 'phone')}" for v in (P, Q))
    weights = home.q(
        "SELECT name_masked, sum(n_files), count(*) FROM ingest.id_keys WHERE key = ? GROUP BY ALL ORDER BY 1",
        [p_key],
    )
    rows_per_name = 1 if one_batch else 2  # 李* is in two files: one folded row, or one row per batch
    assert weights == [("李*", 2, rows_per_name), ("王**", 1, 1)]
    assert home.one("SELECT count(*) FROM ingest.id_keys WHERE key = ?", [q_key]) == 0
    assert home.q(
        "SELECT m.display_name_masked, m.phone_masked FROM staging.members m JOIN staging.member_identities i "
        "USING (member_id) WHERE i.id_type = 'phone' AND i.id_hash = ?",
        [keyed_hash(P, home.key, "phone")],
    ) == [("李*", "138****1111")]
    assert (
        home.one(
            "SELECT count(*) FROM staging.member_identities WHERE id_hash = ?",
            [keyed_hash(Q, home.key, "phone")],
        )
        == 0
    )
    assert home.one("SELECT count(*) FROM staging.orders") == 5
