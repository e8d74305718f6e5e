-- Rebuild the canonical staging tables from the ingest records (after identity.resolve has created temp table
-- key_member(key, member_id, confidence, member_no) and macro id_bits). Statements are separated by ';' at line
-- end. build.rebuild_staging runs every temp-table statement first and then the INSERT INTO staging./ops.
-- statements, in file order, in one transaction: a staging write may read temp tables and staging tables written
-- above it, never the other way.

-- groups ------------------------------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE grp_key AS
SELECT group_key, group_id, id_bits(group_id) AS group_no FROM (
    SELECT DISTINCT group_key, 'g_' || substr(md5(group_key), 1, 16) AS group_id FROM (
        SELECT group_key FROM ingest.groups UNION ALL SELECT group_key FROM ingest.messages
        UNION ALL SELECT group_key FROM ingest.group_events UNION ALL SELECT group_key FROM ingest.wecom_members
    ) WHERE group_key IS NOT NULL
);

CREATE OR REPLACE TEMP TABLE snap AS
SELECT g.*, coalesce(
        TRY_CAST(regexp_extract(m.file_name, '(\d{4}-\d{2}-\d{2})', 1) AS DATE)::TIMESTAMP::TIMESTAMPTZ
            + INTERVAL 7 DAY,
        m.first_seen_at) AS export_at,
       m.first_seen_at, m.file_name
FROM ingest.groups g JOIN landing.manifest m ON m.file_sha256 = g.source_file_sha256;

CREATE OR REPLACE TEMP TABLE grp_owner AS
SELECT group_key,
       arg_max(owner_key, export_at) FILTER (WHERE owner_key IS NOT NULL AND source = 'wecom') AS wecom_owner,
       mode(owner_key) FILTER (WHERE owner_key IS NOT NULL AND source = 'wechat') AS wechat_owner,
       arg_max(group_name, export_at) FILTER (WHERE group_name IS NOT NULL) AS group_name,
       min(created_at) AS created_at, any_value(source) AS source
FROM snap GROUP BY group_key;

CREATE OR REPLACE TEMP TABLE grp_owner_member AS
SELECT o.group_key, km.member_id AS owner_member_id
FROM grp_owner o JOIN key_member km ON km.key = coalesce(o.wecom_owner, o.wechat_owner);

-- messages ----------------------------------------------------------------------------------------------------
-- a message in several exports (overlapping chat exports) counts once: its first (file, line) wins. Only the few
-- duplicated ids are ranked (no sort of millions of rows). They are found by the ids' 64-bit hashes first — equal
-- neighbours once the hashes are sorted — and the strings are grouped only where a hash repeats (a true duplicate
-- or a rare collision, which the grouping drops). Grouping the hashes instead (nearly every one unique: a hash
-- table of tens of millions of entries) took 8-11.5 s at L (51 M messages), the sort 3.1-3.4 s
CREATE OR REPLACE TEMP TABLE msg_dup AS
SELECT message_id FROM ingest.messages
WHERE hash(message_id) IN (
    SELECT h FROM (SELECT h, lag(h) OVER (ORDER BY h) AS prev FROM (SELECT hash(message_id) AS h FROM ingest.messages))
    WHERE h = prev)
GROUP BY message_id HAVING count(*) > 1;

CREATE OR REPLACE TEMP VIEW msg AS  -- read once, into msg2 (a view: no extra copy of millions of rows)
SELECT m.* FROM ingest.messages m ANTI JOIN msg_dup d USING (message_id)
UNION ALL
SELECT * EXCLUDE (rn) FROM (
    SELECT m.*, row_number() OVER (PARTITION BY m.message_id ORDER BY m.source_file_sha256, m.source_line) AS rn
    FROM ingest.messages m SEMI JOIN msg_dup d USING (message_id)
) WHERE rn = 1;

-- msg2 holds what the statements below need and is as narrow as it can be: at L it has ~50 M rows in memory, and
-- with the group and sender ids, the file hash and the format as strings it took ~290 bytes a row (the temp tables
-- were 1.7 GB at M, so ~15 GB at L, near DuckDB's limit beside the ingest tables: session 18 saw every L build
-- statement run ~1.5× slower). Groups, senders and files are numbers here — group_no and
-- sender_no are the 64 bits the g_/m_ ids spell, file_no numbers msg_file — and become ids again only in the
-- statements that write them, through the small maps grp_no, mem_no and msg_file
CREATE OR REPLACE TEMP TABLE msg_file AS
SELECT (row_number() OVER (ORDER BY source_file_sha256, source_format))::INTEGER AS file_no, source_file_sha256,
       source_format
FROM (SELECT DISTINCT source_file_sha256, source_format FROM ingest.messages);

CREATE OR REPLACE TEMP TABLE grp_no AS SELECT DISTINCT group_no, group_id FROM grp_key;

CREATE OR REPLACE TEMP TABLE mem_no AS SELECT DISTINCT member_no, member_id FROM key_member;

-- a group's number and its owner's (one join by the group key for both: each string-keyed join costs seconds on
-- 50 M messages)
CREATE OR REPLACE TEMP TABLE grp_key_owner AS
SELECT gk.group_key, gk.group_no, id_bits(gom.owner_member_id) AS owner_no
FROM grp_key gk LEFT JOIN grp_owner_member gom USING (group_key);

CREATE OR REPLACE TEMP TABLE msg2 AS
SELECT m.message_id, gk.group_no, km.member_no AS sender_no, m.sent_at, m.kind, m.length, m.is_question,
       coalesce(m.is_owner_msg, FALSE) OR coalesce(km.member_no = gk.owner_no, FALSE) AS is_owner,
       f.file_no, m.recalls_message_id
FROM msg m JOIN grp_key_owner gk USING (group_key)
JOIN msg_file f ON f.source_file_sha256 IS NOT DISTINCT FROM m.source_file_sha256
                AND f.source_format IS NOT DISTINCT FROM m.source_format
LEFT JOIN key_member km ON km.key = m.sender_key;

-- identities and members --------------------------------------------------------------------------------------
-- masked name: the most frequent one of the identifier, ties broken by value (deterministic rebuilds). A key is one
-- identifier ('type:hash') of one member, so the ingest rows are aggregated per key first and joined to their member
-- once: grouping the joined rows by (member, type, hash, source) made a hash table of wide string keys over every
-- row (34 s at L, where ingest.id_keys holds ~27 M rows)
CREATE OR REPLACE TEMP TABLE ident AS
WITH per_name AS (  -- one pass over the ingest rows: per (key, type, source, masked name), then per key below
    SELECT key, id_type, source_format, name_masked, sum(n_files) AS n, min(seen_at) AS first_seen_at,
           max(phone_masked) AS phone_masked, bool_or(is_staff) AS is_staff, min(customer_since) AS customer_since
    FROM ingest.id_keys GROUP BY ALL
), a AS (
    SELECT key, id_type, source_format, min(first_seen_at) AS first_seen_at, max(phone_masked) AS phone_masked,
           bool_or(is_staff) AS is_staff, min(customer_since) AS customer_since,
           arg_max(name_masked, (n, name_masked)) FILTER (WHERE name_masked IS NOT NULL) AS name_masked
    FROM per_name GROUP BY key, id_type, source_format
)
SELECT km.member_id, a.id_type, split_part(a.key, ':', 2) AS id_hash, a.source_format, km.confidence,
       a.first_seen_at, a.name_masked, a.phone_masked, a.is_staff, a.customer_since
FROM a JOIN key_member km ON km.key = a.key;

INSERT INTO ident
SELECT nm.member_id, 'nickname_in_group', split_part(nm.key, ':', 2), any_value(e.source_format), 'low',
       min(e.event_at), NULL, NULL, FALSE, NULL
FROM nick_member nm JOIN ingest.group_events e ON e.member_key = nm.key OR e.inviter_key = nm.key
WHERE nm.resolved = 'low'
GROUP BY nm.member_id, nm.key;

INSERT INTO staging.member_identities
SELECT member_id, id_type, id_hash, source_format, CASE WHEN bool_or(confidence = 'high') THEN 'high' ELSE 'low' END,
       min(first_seen_at)
FROM ident GROUP BY member_id, id_type, id_hash, source_format;

-- orders: the newest export of an order wins (late refunds arrive in a later export) ------------------------------
-- orders in more than one export (~2 % at L): only they are ranked — a window over every order sorted 4.7 M rows
-- (L: 8.5-9.1 → 6.7-6.9 s with this table)
CREATE OR REPLACE TEMP TABLE ord_dup AS  -- (repeated hashes found as for msg_dup above)
SELECT order_id FROM ingest.orders
WHERE hash(order_id) IN (
    SELECT h FROM (SELECT h, lag(h) OVER (ORDER BY h) AS prev FROM (SELECT hash(order_id) AS h FROM ingest.orders))
    WHERE h = prev)
GROUP BY order_id HAVING count(*) > 1;

-- (the staging rows are made here, among the temp tables, and only copied inside the write transaction: joining
-- there took 1.26 s at M, this 0.33 + 0.57 s)
CREATE OR REPLACE TEMP TABLE ord AS
SELECT o.order_id, o.source, o.source_order_no, kb.member_id AS member_id, o.order_type, o.status, o.is_paid,
       o.created_at, o.paid_at, o.completed_at, o.items_amount, o.freight, o.discount_amount, o.receivable_amount,
       o.paid_amount, o.refund_status, o.refund_amount, o.net_amount,
       coalesce(ks.member_id, kn.member_id) AS seller_member_id, o.is_leader_order, NULL AS group_id, o.item_count,
       o.source_file_sha256, o.source_line, o.export_ts, o.status_raw
FROM (
    SELECT o.* FROM ingest.orders o ANTI JOIN ord_dup d USING (order_id)
    WHERE o.source_file_sha256 IN (SELECT file_sha256 FROM landing.manifest)
    UNION ALL
    SELECT * EXCLUDE (rn) FROM (
        SELECT o.*, row_number() OVER (PARTITION BY o.order_id
            ORDER BY o.export_ts DESC NULLS LAST, m.first_seen_at DESC, m.file_name DESC, o.source_line DESC) AS rn
        FROM ingest.orders o SEMI JOIN ord_dup d USING (order_id)
        JOIN landing.manifest m ON m.file_sha256 = o.source_file_sha256
    ) WHERE rn = 1
) o
LEFT JOIN key_member kb ON kb.key = o.buyer_key
LEFT JOIN key_member ks ON ks.key = o.seller_key
LEFT JOIN key_member kn ON kn.key = o.seller_name_key;

INSERT INTO staging.orders BY NAME SELECT * FROM ord;

-- order lines: the lines of an order come from the newest file that lists it (newest by the file's first sighting,
-- then its name; equal ones: the smallest hash), and a line number repeated in that file counts once, from its
-- first line. Files are ranked once (a few thousand), each order picks its best file by aggregation, and only
-- repeated line numbers are looked at — no window over every line (23 s at L)
CREATE OR REPLACE TEMP TABLE line_file_rank AS
SELECT file_sha256, row_number() OVER (ORDER BY first_seen_at ASC NULLS FIRST, file_name ASC NULLS FIRST,
                                                file_sha256 DESC) AS r
FROM landing.manifest WHERE file_sha256 IN (SELECT DISTINCT source_file_sha256 FROM ingest.order_lines);

CREATE OR REPLACE TEMP TABLE line_win AS
SELECT l.order_id, arg_max(l.source_file_sha256, f.r) AS sha
FROM (SELECT DISTINCT order_id, source_file_sha256 FROM ingest.order_lines) l
JOIN line_file_rank f ON f.file_sha256 = l.source_file_sha256
GROUP BY l.order_id;

CREATE OR REPLACE TEMP TABLE line_dup AS
SELECT l.order_id, l.line_no, l.source_file_sha256 AS sha, min(l.source_line) AS keep
FROM ingest.order_lines l SEMI JOIN line_win w ON w.order_id = l.order_id AND w.sha = l.source_file_sha256
GROUP BY ALL HAVING count(*) > 1;

INSERT INTO staging.order_lines BY NAME
SELECT l.order_id, l.line_no, l.product_name, l.unit_price, l.quantity, l.line_amount, l.refund_status,
       coalesce(l.refund_amount, 0) AS refund_amount, ks.member_id AS seller_member_id, l.source_file_sha256,
       l.source_line
FROM ingest.order_lines l SEMI JOIN line_win w ON w.order_id = l.order_id AND w.sha = l.source_file_sha256
LEFT JOIN key_member ks ON ks.key = l.seller_key
WHERE NOT EXISTS (SELECT 1 FROM line_dup d WHERE d.order_id = l.order_id AND d.line_no IS NOT DISTINCT FROM l.line_no
                  AND d.sha = l.source_file_sha256 AND d.keep <> l.source_line);

-- group memberships -------------------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE gm AS
-- personal WeChat: join / leave notices ("你" = the owner)
SELECT gk.group_id, km.member_id, e.event, e.event_at, e.scene,
       CASE WHEN e.inviter_key = 'owner' THEN gom.owner_member_id ELSE ki.member_id END AS inviter_member_id,
       e.source_format, e.source_file_sha256, e.source_line
FROM ingest.group_events e JOIN grp_key gk USING (group_key)
JOIN key_member km ON km.key = e.member_key
LEFT JOIN key_member ki ON ki.key = e.inviter_key
LEFT JOIN grp_owner_member gom ON gom.group_key = e.group_key;

-- WeCom: every member of a snapshot joined at join_time (once); members gone from the next snapshot left
INSERT INTO gm
SELECT gk.group_id, km.member_id, 'join', w.join_at,
       CASE WHEN km.member_id = gom.owner_member_id THEN 'owner' ELSE w.scene END,
       ki.member_id, 'wecom_group_detail', arg_min(w.source_file_sha256, w.snapshot_at), arg_min(w.source_line, w.snapshot_at)
FROM ingest.wecom_members w JOIN grp_key gk USING (group_key)
JOIN key_member km ON km.key = w.member_key
LEFT JOIN key_member ki ON ki.key = w.inviter_key
LEFT JOIN grp_owner_member gom ON gom.group_key = w.group_key
WHERE w.join_at IS NOT NULL
GROUP BY gk.group_id, km.member_id, w.join_at, w.scene, ki.member_id, gom.owner_member_id;

CREATE OR REPLACE TEMP TABLE wsnap AS
SELECT DISTINCT w.group_key, w.source_file_sha256, s.export_at
FROM ingest.wecom_members w JOIN (SELECT DISTINCT source_file_sha256, group_key, export_at FROM snap) s
  USING (source_file_sha256, group_key);

INSERT INTO gm
WITH seq AS (
    SELECT group_key, source_file_sha256, export_at,
           lead(source_file_sha256) OVER (PARTITION BY group_key ORDER BY export_at) AS next_sha,
           lead(export_at) OVER (PARTITION BY group_key ORDER BY export_at) AS next_at
    FROM wsnap
)
SELECT gk.group_id, km.member_id, 'leave', s.next_at, 'left', NULL, 'wecom_group_detail', s.next_sha, NULL
FROM seq s JOIN ingest.wecom_members w ON w.group_key = s.group_key AND w.source_file_sha256 = s.source_file_sha256
JOIN grp_key gk ON gk.group_key = s.group_key
JOIN key_member km ON km.key = w.member_key
WHERE s.next_sha IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ingest.wecom_members w2
                  WHERE w2.group_key = s.group_key AND w2.source_file_sha256 = s.next_sha AND w2.member_key = w.member_key);

-- each group's first and last message (and one file that holds its messages)
CREATE OR REPLACE TEMP TABLE msg_grp AS
SELECT group_no, min(sent_at) AS first_at, max(sent_at) AS last_at, any_value(file_no) AS file_no
FROM msg2 GROUP BY group_no;

-- personal WeChat: the owner is there from the first event; members who simply start to talk joined organically
INSERT INTO gm
SELECT gk.group_id, gom.owner_member_id, 'join',
       least(min(m.first_at), coalesce(min(go.created_at), min(m.first_at))),
       'owner', NULL, any_value(f.source_format), NULL, NULL
FROM grp_owner_member gom JOIN grp_key gk USING (group_key)
JOIN msg_grp m ON m.group_no = gk.group_no
JOIN msg_file f USING (file_no)
LEFT JOIN grp_owner go ON go.group_key = gom.group_key
WHERE NOT EXISTS (SELECT 1 FROM gm WHERE gm.group_id = gk.group_id AND gm.member_id = gom.owner_member_id
                  AND gm.event = 'join')
GROUP BY gk.group_id, gom.owner_member_id;

INSERT INTO gm
SELECT g.group_id, p.member_id, 'join', min(m.sent_at), 'organic', NULL, any_value(f.source_format),
       arg_min(f.source_file_sha256, m.sent_at), NULL
FROM msg2 m JOIN msg_file f USING (file_no)
JOIN grp_no g USING (group_no)
JOIN mem_no p ON p.member_no = m.sender_no
WHERE f.source_format <> 'wecom_archive'
  AND NOT EXISTS (SELECT 1 FROM gm WHERE gm.group_id = g.group_id AND gm.member_id = p.member_id
                  AND gm.event = 'join' AND gm.event_at <= m.sent_at)
GROUP BY g.group_id, p.member_id;

INSERT INTO staging.group_memberships
SELECT DISTINCT group_id, member_id, event, event_at, scene, inviter_member_id, source_format, source_file_sha256,
       source_line
FROM gm WHERE event_at IS NOT NULL;

-- messages: recalls, staff, first responses (no text anywhere) ------------------------------------------------
CREATE OR REPLACE TEMP TABLE staff AS SELECT DISTINCT id_bits(member_id) AS member_no FROM ident WHERE is_staff;

-- A question's first response is the first later message (group order sent_at, message_id) by someone else: the
-- start of the next run of speech (a run: consecutive messages of one sender). Computed by build.first_responses
-- (the speech rows sorted by DuckDB, a backward fill in polars) into temp table first_resp(rid, nx), rid being
-- msg2's row, joined here.
-- @@ first_responses
INSERT INTO staging.messages
SELECT m.message_id, g.group_id, p.member_id AS sender_member_id, m.sent_at, m.kind, m.length, m.is_question,
       m.is_owner, (st.member_no IS NOT NULL) AS is_staff,
       (r.recalls_message_id IS NOT NULL) AS is_recalled,
       fr.nx AS first_response_at,
       epoch(fr.nx) - epoch(m.sent_at) AS first_response_seconds,
       f.source_format, f.source_file_sha256
FROM msg2 m
JOIN grp_no g USING (group_no)
JOIN msg_file f USING (file_no)
LEFT JOIN mem_no p ON p.member_no = m.sender_no
LEFT JOIN staff st ON st.member_no = m.sender_no
LEFT JOIN (SELECT DISTINCT recalls_message_id FROM msg2 WHERE recalls_message_id IS NOT NULL) r
       ON r.recalls_message_id = m.message_id
LEFT JOIN first_resp fr ON fr.rid = m.rowid;

-- groups ------------------------------------------------------------------------------------------------------
INSERT INTO staging.groups
SELECT gk.group_id, coalesce(o.source, CASE WHEN gk.group_key LIKE 'wr%' THEN 'wecom' ELSE 'wechat' END),
       o.group_name, gom.owner_member_id,
       coalesce(o.created_at, ev.first_at), ev.first_at, ev.last_at
FROM grp_key gk
LEFT JOIN grp_owner o USING (group_key)
LEFT JOIN grp_owner_member gom USING (group_key)
LEFT JOIN (
    SELECT group_id, min(first_at) AS first_at, max(last_at) AS last_at FROM (
        SELECT g.group_id, m.first_at, m.last_at FROM msg_grp m JOIN grp_no g USING (group_no)
        UNION ALL SELECT group_id, event_at, event_at FROM gm
    ) GROUP BY group_id
) ev ON ev.group_id = gk.group_id;

-- referrals ---------------------------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE refs AS
SELECT kr.member_id AS referrer_member_id, ke.member_id AS referee_member_id, r.referred_at, r.channel,
       gk.group_id, r.source_format, r.source_file_sha256
FROM ingest.referrals r
JOIN key_member kr ON kr.key = r.referrer_key
JOIN key_member ke ON ke.key = r.referee_key
LEFT JOIN grp_key gk ON gk.group_key = r.group_key
UNION ALL
SELECT inviter_member_id, member_id, event_at,
       CASE WHEN source_format = 'wecom_group_detail' THEN 'wecom_invitor'
            WHEN scene = 'qr' THEN 'chat_qr' ELSE 'chat_invite' END,
       group_id, source_format, source_file_sha256
FROM gm WHERE event = 'join' AND inviter_member_id IS NOT NULL;

INSERT INTO staging.referrals
SELECT referrer_member_id, referee_member_id, min(referred_at), channel, arg_min(group_id, referred_at),
       arg_min(source_format, referred_at), arg_min(source_file_sha256, referred_at)
FROM refs
WHERE referrer_member_id <> referee_member_id AND referred_at IS NOT NULL
GROUP BY referrer_member_id, referee_member_id, channel;

-- members -----------------------------------------------------------------------------------------------------
-- every sender, with their first message (per number, then the ids: one small join instead of one per message)
CREATE OR REPLACE TEMP TABLE msg_sender AS
SELECT p.member_id, min(m.first_at) AS first_at
FROM (SELECT sender_no, min(sent_at) AS first_at FROM msg2 GROUP BY sender_no) m
JOIN mem_no p ON p.member_no = m.sender_no
GROUP BY p.member_id;

INSERT INTO staging.members
-- a member is anyone with an identifier, a membership, a message or an order (every one of those ids comes from
-- key_member), first seen at the earliest of those times (a membership counts by its join): one aggregation for both
-- (a distinct set filtered against key_member and a second union: L 8.4 → 6.0 s)
WITH mem AS (
    SELECT member_id, min(t) AS t FROM (
        SELECT member_id, least(first_seen_at, customer_since) AS t FROM ident
        UNION ALL SELECT member_id, CASE WHEN event = 'join' THEN event_at END FROM gm
        UNION ALL SELECT member_id, created_at FROM staging.orders
        UNION ALL SELECT member_id, first_at FROM msg_sender
    ) WHERE member_id IS NOT NULL GROUP BY member_id
)
SELECT mem.member_id, nm.name_masked, nm.phone_masked, coalesce(i.is_staff, FALSE), mem.t, i.customer_since,
       i.sources
FROM mem
LEFT JOIN (
    SELECT member_id, bool_or(is_staff) AS is_staff,
           min(customer_since) AS customer_since, list_sort(list_distinct(list(source_format))) AS sources
    FROM ident GROUP BY member_id
) i USING (member_id)
LEFT JOIN (  -- the most frequent masked name / phone; ties broken by the value, so a rebuild is deterministic
    SELECT member_id, arg_max(v, (n, v)) FILTER (WHERE what = 'name') AS name_masked,
           arg_max(v, (n, v)) FILTER (WHERE what = 'phone') AS phone_masked
    FROM (SELECT member_id, 'name' AS what, name_masked AS v, count(*) AS n FROM ident
          WHERE name_masked IS NOT NULL GROUP BY ALL
          UNION ALL
          SELECT member_id, 'phone', phone_masked, count(*) FROM ident WHERE phone_masked IS NOT NULL GROUP BY ALL)
    GROUP BY member_id
) nm USING (member_id);

-- identity match rate per source --------------------------------------------------------------------------------
INSERT INTO ops.identity_match_rate
-- one row per (source, member) first, then plain counts: four count(DISTINCT …) over the identifier rows, one of a
-- concatenated string, took twice as long (L: 7.0-7.7 → 3.6-3.7 s)
WITH per AS (SELECT DISTINCT source_format, member_id, id_type, id_hash, confidence FROM ident),
pm AS (SELECT source_format, member_id, count(*) FILTER (WHERE confidence = 'low') AS low FROM per GROUP BY ALL),
multi AS (SELECT member_id FROM pm GROUP BY member_id HAVING count(*) > 1),
pmm AS (SELECT pm.*, m.member_id IS NOT NULL AS matched FROM pm LEFT JOIN multi m USING (member_id)),
ids AS (SELECT source_format, count(*) AS n FROM (SELECT DISTINCT source_format, id_type, id_hash FROM per) GROUP BY ALL)
SELECT source_format, ids.n, count(*), count(*) FILTER (WHERE matched),
       count(*) FILTER (WHERE matched) / nullif(count(*), 0), sum(low), now()
FROM pmm JOIN ids USING (source_format) GROUP BY source_format, ids.n;
