"""Helpers for the member lifetime tests: hand-built rows in the canonical staging tables."""

import datetime as dt

import duckdb

TZ = "Asia/Shanghai"


class Warehouse:
    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn = conn
        self._n = 0

    @staticmethod
    def _ts(day: str, hour: int = 12) -> str:
        # local noon in Shanghai, stored as UTC
        return f"{day} {hour:02d}:00:00+08:00"

    def member(self, member_id: str, name: str = "王*", staff: bool = False, first_seen: str | None = None):
        self.conn.execute(
            "INSERT INTO staging.members (member_id, display_name_masked, is_staff, first_seen_at) VALUES (?,?,?,?)",
            [member_id, name, staff, self._ts(first_seen) if first_seen else None],
        )
        return self

    def order(
        self,
        member_id: str | None,
        day: str,
        amount: float,
        refund: float = 0.0,
        seller: str | None = None,
        paid: bool = True,
        hour: int = 12,
    ):
        self._n += 1
        oid = f"canonical:{self._n}"
        ts = self._ts(day, hour)
        self.conn.execute(
            """INSERT INTO staging.orders (order_id, source, source_order_no, member_id, status, is_paid, created_at,
                   paid_at, paid_amount, refund_amount, net_amount, seller_member_id, source_file_sha256)
               VALUES (?, 'canonical', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sha')""",
            [
                oid,
                str(self._n),
                member_id,
                "paid" if paid else "closed",
                paid,
                ts,
                ts if paid else None,
                amount if paid else 0,
                refund,
                (amount - refund) if paid else 0,
                seller,
            ],
        )
        return self

    def referral(self, referrer: str, referee: str, day: str):
        self.conn.execute(
            "INSERT INTO staging.referrals VALUES (?, ?, ?, 'invite_record', NULL, 'invite_records', 'sha')",
            [referrer, referee, self._ts(day)],
        )
        return self

    def group(self, group_id: str, owner: str, created: str):
        self.conn.execute(
            "INSERT INTO staging.groups (group_id, source, owner_member_id, created_at) VALUES (?, 'wechat', ?, ?)",
            [group_id, owner, self._ts(created)],
        )
        return self

    def join(self, group_id: str, member_id: str, day: str, event: str = "join"):
        self.conn.execute(
            "INSERT INTO staging.group_memberships (group_id, member_id, event, event_at, source_format) "
            "VALUES (?, ?, ?, ?, 'wechatmsg_chat')",
            [group_id, member_id, event, self._ts(day)],
        )
        return self


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)
