"""Hand-built warehouse fixtures for the 大C mart: a temp DuckDB with the canonical schema and known rows."""

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from assets.marts.dac_contribution.tables import ensure_tables
from xiaoshuju.warehouse import apply_schema

UTC = UTC

MEMBER_LIFETIME_DDL = """
CREATE TABLE IF NOT EXISTS marts.member_lifetime (
    member_id VARCHAR PRIMARY KEY, role_level VARCHAR, l4_at DATE,
    historic_clv DECIMAL(18,2), predicted_clv_12m DECIMAL(18,2))
"""


def ts(s: str) -> datetime:
    """'2024-11-28 02:00' as a UTC instant."""
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


class Warehouse:
    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn = conn
        self._n = 0

    def member(self, member_id, first_seen=None, role="L1", l4_at=None, clv=0, pclv=0):
        self.conn.execute(
            "INSERT INTO staging.members (member_id, first_seen_at) VALUES (?, ?)",
            [member_id, ts(first_seen) if first_seen else None],
        )
        self.conn.execute(
            "INSERT INTO marts.member_lifetime VALUES (?, ?, ?, ?, ?)", [member_id, role, l4_at, clv, pclv]
        )

    def group(self, group_id, owner, created):
        self.conn.execute(
            "INSERT INTO staging.groups (group_id, source, owner_member_id, created_at) VALUES (?, 'wechat', ?, ?)",
            [group_id, owner, ts(created)],
        )

    def membership(self, group_id, member_id, event, at):
        self.conn.execute(
            "INSERT INTO staging.group_memberships (group_id, member_id, event, event_at, source_format) "
            "VALUES (?, ?, ?, ?, 'test')",
            [group_id, member_id, event, ts(at)],
        )

    def referral(self, referrer, referee, at):
        self.conn.execute(
            "INSERT INTO staging.referrals (referrer_member_id, referee_member_id, referred_at, channel, "
            "source_format) VALUES (?, ?, ?, 'invite_record', 'test')",
            [referrer, referee, ts(at)],
        )

    def order(self, order_id, buyer, paid, net, seller=None, group_id=None, is_paid=True):
        paid_at = ts(paid)
        self.conn.execute(
            "INSERT INTO staging.orders (order_id, source, source_order_no, member_id, status, is_paid, created_at, "
            "paid_at, paid_amount, net_amount, seller_member_id, group_id, source_file_sha256) "
            "VALUES (?, 'canonical', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'x')",
            [
                order_id,
                order_id,
                buyer,
                "paid" if is_paid else "closed",
                is_paid,
                paid_at - timedelta(minutes=5),
                paid_at if is_paid else None,
                net if is_paid else 0,
                net if is_paid else 0,
                seller,
                group_id,
            ],
        )

    def message(self, group_id, sender, at):
        self._n += 1
        self.conn.execute(
            "INSERT INTO staging.messages (message_id, group_id, sender_member_id, sent_at, kind, source_format) "
            "VALUES (?, ?, ?, ?, 'text', 'test')",
            [f"msg{self._n}", group_id, sender, ts(at)],
        )

    def q(self, sql, params=None):
        return self.conn.execute(sql, params or []).fetchall()


@pytest.fixture
def wh(tmp_path):
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    apply_schema(conn)
    conn.execute(MEMBER_LIFETIME_DDL)
    ensure_tables(conn)
    yield Warehouse(conn)
    conn.close()
