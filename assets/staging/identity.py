"""Identity resolution: one member_id per person across every source.

Exact keys (normalised phone, wxid, WeCom external/internal userid, unionid, platform buyer id, email) that occur
in the same record are linked; connected components over those links are people (label propagation in DuckDB
with pointer jumping — a handful of set-based passes, no per-row Python). Nicknames inside a group are only a
low-confidence fallback: a nickname resolves to a member when exactly one member used it in that group.
"""

from __future__ import annotations

import duckdb

WEAK_TYPES = ("nickname_in_group", "distributor_name", "owner")
# a member_id or group_id ('m_' / 'g_' and 16 hex digits) as the 64-bit integer it spells: equal exactly when the ids
# are equal, so steps that only compare ids (build.first_responses) can move integers. Used by resolve and build.sql.
ID_BITS_MACRO = "CREATE OR REPLACE TEMP MACRO id_bits(id) AS ('0x' || substr(id, 3))::UBIGINT"


def resolve(conn: duckdb.DuckDBPyConnection, max_rounds: int = 50) -> int:
    """Build temp table ``key_member(key, member_id, confidence, member_no)`` for every key referenced anywhere.
    Returns the number of propagation rounds used."""
    # the key's type (before the ':', the whole key if it has none) is a weak one: prefix tests, not split_part on
    # every row (which cost 40 % of the statement below)
    weak = " OR ".join(f"key LIKE '{t}:%' OR key = '{t}'" for t in WEAK_TYPES)
    # Message senders are not scanned here: every reader that writes a message's sender key also writes that key's
    # ingest.id_keys row (the key rows are made from the same senders), so the 51 M sender keys of L would only
    # repeat ~0.9 M keys already listed (this statement 8.5-9.2 → 4.5-5.0 s at L). Pinned by
    # tests/ingestion/test_formats.py::test_every_message_sender_has_an_identity_row.
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE id_nodes AS
        SELECT DISTINCT key FROM (
            SELECT key FROM ingest.id_keys
            UNION ALL SELECT key_a FROM ingest.id_edges UNION ALL SELECT key_b FROM ingest.id_edges
            UNION ALL SELECT buyer_key FROM ingest.orders UNION ALL SELECT seller_key FROM ingest.orders
            UNION ALL SELECT seller_key FROM ingest.order_lines
            UNION ALL SELECT owner_key FROM ingest.groups
            UNION ALL SELECT member_key FROM ingest.wecom_members UNION ALL SELECT inviter_key FROM ingest.wecom_members
            UNION ALL SELECT key FROM ingest.nick_links UNION ALL SELECT key FROM ingest.seller_names
            UNION ALL SELECT referrer_key FROM ingest.referrals UNION ALL SELECT referee_key FROM ingest.referrals
        ) WHERE key IS NOT NULL AND NOT ({weak});

        CREATE OR REPLACE TEMP TABLE id_e AS
        SELECT DISTINCT a, b FROM (
            SELECT key_a AS a, key_b AS b FROM ingest.id_edges UNION ALL SELECT key_b, key_a FROM ingest.id_edges
        );
        CREATE OR REPLACE TEMP TABLE id_lbl AS SELECT key, key AS comp FROM id_nodes;
        """
    )
    rounds = 0
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - rounds reported
        conn.execute(
            """
            CREATE OR REPLACE TEMP TABLE id_lbl2 AS
            WITH nb AS (
                SELECT e.a AS key, min(l.comp) AS c FROM id_e e JOIN id_lbl l ON l.key = e.b GROUP BY e.a
            ), step AS (
                SELECT l.key, least(l.comp, coalesce(nb.c, l.comp)) AS comp FROM id_lbl l LEFT JOIN nb USING (key)
            )
            -- pointer jumping: adopt the label of your label
            SELECT s.key, least(s.comp, coalesce(j.comp, s.comp)) AS comp
            FROM step s LEFT JOIN step j ON j.key = s.comp
            """
        )
        changed = conn.execute(
            "SELECT count(*) FROM id_lbl2 n JOIN id_lbl o USING (key) WHERE n.comp <> o.comp"
        ).fetchone()[0]
        conn.execute("CREATE OR REPLACE TEMP TABLE id_lbl AS SELECT * FROM id_lbl2")
        if changed == 0:
            break
    conn.execute(ID_BITS_MACRO)
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE key_member AS
        SELECT key, member_id, 'high' AS confidence, id_bits(member_id) AS member_no
        FROM (SELECT key, 'm_' || substr(md5(comp), 1, 16) AS member_id FROM id_lbl);

        -- nickname within a group → the one member who used it there (else a low-confidence member of its own)
        CREATE OR REPLACE TEMP TABLE nick_member AS
        WITH cand AS (
            SELECT DISTINCT n.nick_key, km.member_id FROM ingest.nick_links n JOIN key_member km ON km.key = n.key
        ), uniq AS (
            SELECT nick_key, any_value(member_id) AS member_id FROM cand GROUP BY nick_key HAVING count(*) = 1
        ), used AS (
            SELECT member_key AS nick_key FROM ingest.group_events WHERE member_key LIKE 'nickname_in_group:%'
            UNION SELECT inviter_key FROM ingest.group_events WHERE inviter_key LIKE 'nickname_in_group:%'
        )
        SELECT u.nick_key AS key, coalesce(q.member_id, 'm_' || substr(md5(u.nick_key), 1, 16)) AS member_id,
               CASE WHEN q.member_id IS NULL THEN 'low' ELSE 'high' END AS resolved
        FROM used u LEFT JOIN uniq q USING (nick_key);

        -- 分销员 name (customers' binding, KTT 帮卖) → the seller phone most often printed beside it on orders
        CREATE OR REPLACE TEMP TABLE dist_member AS
        SELECT name_key AS key, arg_max(km.member_id, s.n) AS member_id
        FROM (SELECT name_key, key, sum(n) AS n FROM ingest.seller_names GROUP BY ALL) s
        JOIN key_member km ON km.key = s.key GROUP BY name_key;

        INSERT INTO key_member SELECT key, member_id, 'low', id_bits(member_id) FROM nick_member;
        INSERT INTO key_member SELECT key, member_id, 'low', id_bits(member_id) FROM dist_member
            WHERE key NOT IN (SELECT key FROM key_member);
        """
    )
    return rounds
