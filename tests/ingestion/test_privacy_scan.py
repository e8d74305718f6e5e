"""No raw phone number, wxid, WeCom id or name from the inputs appears anywhere in the warehouse after ingest
(staging, ingest, quarantine, ops — and marts, when present)."""

import re
from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ALL = [p.name for p in FIX.iterdir()]

PHONES = ["13800001111", "13900002222", "13700003333", "13800002222"]
IDS = [
    "wxid_owner000000001",
    "wxid_member0000001",
    "lily_8823",
    "wmAbc001",
    "wmAbc002",
    "oUnion000000000000000000001",
    "1000000001",
    "1000000002",
    "alice@example.com",
    "bob@example.com",
    "staff_lin",
]
NAMES = ["王小花", "张三", "六六", "李团长", "赵六", "Alice Wang", "Bob Li"]


def _all_text(home) -> list[str]:
    cols = home.q(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema IN ('staging', 'ingest', 'quarantine', 'ops', 'marts', 'landing') "
        "AND (data_type LIKE 'VARCHAR%' OR data_type LIKE '%[]')"
    )
    out = []
    for schema, table, col, dtype in cols:
        if schema == "landing" and col in ("file_name", "archived_path"):
            continue  # file names are the brand's own, not personal data
        expr = f'"{col}"' if not dtype.endswith("[]") else f"array_to_string(\"{col}\", ',')"
        out += [
            r[0] for r in home.q(f'SELECT DISTINCT {expr} FROM "{schema}"."{table}" WHERE {expr} IS NOT NULL')
        ]
    return out


def test_no_raw_identifiers_anywhere(home):
    for name in ALL:
        home.drop_fixture(name)
    # and a quarantined row full of personal data
    home.drop("bad.csv", (FIX / "youzan_orders_bom.csv").read_bytes().replace(b"97.90", b"-97.90"))
    home.run()
    assert home.one("SELECT count(*) FROM staging.members") >= 6  # the scan below looks at real data
    assert home.one("SELECT count(*) FROM quarantine.rows") >= 1
    text = "\n".join(_all_text(home))
    for v in PHONES + IDS + NAMES:
        assert v not in text, f"raw value {v!r} found in the warehouse"
    assert not re.search(r"(?<![\dA-Za-z])1[3-9]\d{9}(?!\d)", text), "an unmasked mobile number is stored"
