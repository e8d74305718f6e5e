-- Canonical model of xiaoshuju (DESIGN.md §3). The single shape every reader writes and every mart reads.
-- Times are UTC TIMESTAMPTZ; money DECIMAL(18,2) yuan; personal identifiers only as keyed hashes / masked text.
-- member_id / group_id are opaque stable ids made by identity resolution ('m_' || 16 hex, 'g_' || 16 hex).
-- The literal member_id 'brand_direct' is never used in staging; marts use it for orders with no 大C.

CREATE SCHEMA IF NOT EXISTS landing;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS ops;

-- One row per file ever seen in the inbox (by content hash).
CREATE TABLE IF NOT EXISTS landing.manifest (
    file_sha256      VARCHAR PRIMARY KEY,
    file_name        VARCHAR NOT NULL,      -- name as dropped (relative to inbox)
    archived_path    VARCHAR,               -- archive/<sha[:2]>/<sha>/<name>; original bytes, never modified
    size_bytes       BIGINT,
    detected_format  VARCHAR NOT NULL,      -- youzan_orders, youzan_order_lines, youzan_customers, ktt_orders,
                                            -- shopify_orders, canonical_orders, wechatmsg_chat, pywxdump_chat,
                                            -- wecom_archive, wecom_group_detail, invite_records, unknown, empty, binary
    encoding         VARCHAR,               -- utf-8-sig, utf-8, gb18030, binary(xlsx), ...
    row_count        BIGINT,                -- data rows (header excluded)
    first_ts         TIMESTAMPTZ,           -- earliest event time in the file, if it has times
    last_ts          TIMESTAMPTZ,
    status           VARCHAR NOT NULL,      -- registered | unknown_format | empty | binary | unreadable
    problem          VARCHAR,               -- words for a user when status != registered
    first_seen_at    TIMESTAMPTZ NOT NULL,
    seen_count       INTEGER NOT NULL DEFAULT 1,
    ingested_at      TIMESTAMPTZ            -- set by staging when the file's rows were loaded
);

CREATE TABLE IF NOT EXISTS staging.orders (
    order_id            VARCHAR NOT NULL,      -- key: source || ':' || source_order_no (unique: checked, no index)
    source              VARCHAR NOT NULL,      -- youzan | ktt | shopify | canonical
    source_order_no     VARCHAR NOT NULL,
    member_id           VARCHAR,               -- buyer, resolved
    order_type          VARCHAR,               -- raw type text, e.g. 社群接龙订单
    status              VARCHAR NOT NULL,      -- pending | paid | shipped | completed | closed | refunded
    is_paid             BOOLEAN NOT NULL,      -- money was received (paid_at not null and paid_amount > 0)
    created_at          TIMESTAMPTZ NOT NULL,
    paid_at             TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    items_amount        DECIMAL(18,2),
    freight             DECIMAL(18,2),
    discount_amount     DECIMAL(18,2),
    receivable_amount   DECIMAL(18,2),
    paid_amount         DECIMAL(18,2) NOT NULL,  -- 0 for unpaid
    refund_status       VARCHAR,               -- none | partial | full
    refund_amount       DECIMAL(18,2) NOT NULL DEFAULT 0,
    net_amount          DECIMAL(18,2) NOT NULL,  -- paid_amount - refund_amount (the GMV contribution)
    seller_member_id    VARCHAR,               -- 分销员 / 团长 / 帮卖 named on the order (last touch), resolved
    is_leader_order     BOOLEAN,               -- 团长订单 / 接龙
    group_id            VARCHAR,               -- group named by the order itself, if any (rare)
    item_count          INTEGER,
    source_file_sha256  VARCHAR NOT NULL,
    source_line         BIGINT,
    export_ts           TIMESTAMPTZ,           -- newest export wins for the same order_id
    status_raw          VARCHAR                -- the export's own status text (订单状态 / Financial Status)
);

CREATE TABLE IF NOT EXISTS staging.order_lines (
    order_id            VARCHAR NOT NULL,
    line_no             INTEGER NOT NULL,
    product_name        VARCHAR,
    unit_price          DECIMAL(18,2),
    quantity            INTEGER,
    line_amount         DECIMAL(18,2),
    refund_status       VARCHAR,
    refund_amount       DECIMAL(18,2) NOT NULL DEFAULT 0,
    seller_member_id    VARCHAR,
    source_file_sha256  VARCHAR NOT NULL,
    source_line         BIGINT
    -- key (order_id, line_no): unique, checked by staging_contracts (no index: DuckDB rebuilds indexes slowly)
);

CREATE TABLE IF NOT EXISTS staging.members (
    member_id           VARCHAR NOT NULL,      -- key (unique: checked by staging_contracts, no index)
    display_name_masked VARCHAR,               -- 王*  (never the raw name)
    phone_masked        VARCHAR,               -- 138****1234
    is_staff            BOOLEAN NOT NULL DEFAULT FALSE,  -- brand staff account (WeCom staff, exporting account)
    first_seen_at       TIMESTAMPTZ,           -- earliest of: group join, customer since, first order, first message
    customer_since      TIMESTAMPTZ,           -- 成为客户时间 where known
    sources             VARCHAR[]              -- which source formats know this member
);

CREATE TABLE IF NOT EXISTS staging.member_identities (
    member_id           VARCHAR NOT NULL,
    id_type             VARCHAR NOT NULL,      -- phone | wxid | wecom_external | unionid | platform_buyer | nickname_in_group
    id_hash             VARCHAR NOT NULL,      -- keyed hash (HMAC) of the normalised identifier
    source_format       VARCHAR NOT NULL,
    confidence          VARCHAR NOT NULL,      -- high | low
    first_seen_at       TIMESTAMPTZ
    -- key (id_type, id_hash, source_format): unique, checked by staging_contracts (no index)
);

CREATE TABLE IF NOT EXISTS staging.groups (
    group_id            VARCHAR PRIMARY KEY,
    source              VARCHAR NOT NULL,      -- wechat | wecom
    group_name          VARCHAR,               -- group names are business names, kept
    owner_member_id     VARCHAR,               -- the 大C who owns it (群主)
    created_at          TIMESTAMPTZ,           -- creation time, else first event seen
    first_event_at      TIMESTAMPTZ,
    last_event_at       TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS staging.group_memberships (
    group_id            VARCHAR NOT NULL,
    member_id           VARCHAR NOT NULL,
    event               VARCHAR NOT NULL,      -- join | leave
    event_at            TIMESTAMPTZ NOT NULL,
    scene               VARCHAR,               -- invite | link | qr | organic | owner | removed | left | unknown
    inviter_member_id   VARCHAR,
    source_format       VARCHAR NOT NULL,
    source_file_sha256  VARCHAR,
    source_line         BIGINT
);

CREATE TABLE IF NOT EXISTS staging.messages (
    message_id          VARCHAR NOT NULL,      -- key: source-stable id (unique: checked, no index)
    group_id            VARCHAR NOT NULL,
    sender_member_id    VARCHAR,               -- NULL for system notices
    sent_at             TIMESTAMPTZ NOT NULL,
    kind                VARCHAR NOT NULL,      -- text | image | voice | video | sticker | link | miniprogram |
                                               -- solitaire | quote | transfer | redpacket | system | recall | other
    length              INTEGER,               -- characters of text content (0 for non-text); no text is stored
    is_question         BOOLEAN NOT NULL DEFAULT FALSE,
    is_owner            BOOLEAN NOT NULL DEFAULT FALSE,  -- sent by the group's owner
    is_staff            BOOLEAN NOT NULL DEFAULT FALSE,  -- sent by brand staff
    is_recalled         BOOLEAN NOT NULL DEFAULT FALSE,  -- later recalled (does not count as speech)
    first_response_at   TIMESTAMPTZ,           -- for questions: first later message in the group by someone else
    first_response_seconds DOUBLE,
    source_format       VARCHAR NOT NULL,
    source_file_sha256  VARCHAR
);

CREATE TABLE IF NOT EXISTS staging.referrals (
    referrer_member_id  VARCHAR NOT NULL,
    referee_member_id   VARCHAR NOT NULL,
    referred_at         TIMESTAMPTZ NOT NULL,
    channel             VARCHAR NOT NULL,      -- invite_record | distributor_binding | chat_invite | chat_qr | wecom_invitor
    group_id            VARCHAR,
    source_format       VARCHAR NOT NULL,
    source_file_sha256  VARCHAR
);

-- Every row that was not loaded, with a reason. Originals stay in the archive: nothing is lost.
CREATE TABLE IF NOT EXISTS quarantine.rows (
    file_sha256         VARCHAR NOT NULL,
    file_name           VARCHAR NOT NULL,
    source_format       VARCHAR,
    line_no             BIGINT,                -- 1-based physical line in the file (header = 1); NULL for file-level
    reason_code         VARCHAR NOT NULL,      -- bad_date | negative_amount | missing_id | broken_row | bad_number |
                                               -- bad_encoding | duplicate_key | unknown_layout | missing_columns |
                                               -- empty_file | binary_file | truncated | bad_json | contract_violation
    reason              VARCHAR NOT NULL,      -- words for a user: which column, what value shape, what to do
    preview_masked      VARCHAR,               -- the row with digits/names masked
    quarantined_at      TIMESTAMPTZ NOT NULL,
    records             BIGINT NOT NULL DEFAULT 1  -- input records this row stands for (file-level rows: all of them)
);

-- Per file: rows in = loaded + quarantined.
CREATE TABLE IF NOT EXISTS ops.reconciliation (
    file_sha256         VARCHAR PRIMARY KEY,
    file_name           VARCHAR NOT NULL,
    source_format       VARCHAR,
    rows_in             BIGINT NOT NULL,
    rows_loaded         BIGINT NOT NULL,
    rows_quarantined    BIGINT NOT NULL,
    reconciled          BOOLEAN NOT NULL,
    checked_at          TIMESTAMPTZ NOT NULL
);

-- Identity resolution per source: how many of a source's identifiers joined a member known from another source.
CREATE TABLE IF NOT EXISTS ops.identity_match_rate (
    source_format       VARCHAR PRIMARY KEY,
    identifiers         BIGINT NOT NULL,       -- distinct identifiers (keyed hashes) seen in the source
    members             BIGINT NOT NULL,       -- distinct members they resolve to
    matched_members     BIGINT NOT NULL,       -- of those, members also known from at least one other source
    match_rate          DOUBLE,                -- matched_members / members
    low_confidence      BIGINT NOT NULL,       -- identifiers resolved only by nickname within a group
    computed_at         TIMESTAMPTZ NOT NULL
);

-- ---- ingest: per-file records, already typed and hashed (no raw personal data), from which staging is rebuilt.
-- Identity keys are '<id_type>:<keyed hash>'. Every table carries the file it came from.
CREATE SCHEMA IF NOT EXISTS ingest;

CREATE TABLE IF NOT EXISTS ingest.orders (
    order_id VARCHAR, source VARCHAR, source_order_no VARCHAR, source_format VARCHAR, buyer_key VARCHAR,
    buyer_name_masked VARCHAR, buyer_phone_masked VARCHAR, order_type VARCHAR, status VARCHAR, status_raw VARCHAR,
    is_paid BOOLEAN, created_at TIMESTAMPTZ, paid_at TIMESTAMPTZ, completed_at TIMESTAMPTZ,
    items_amount DECIMAL(18,2), freight DECIMAL(18,2), discount_amount DECIMAL(18,2), receivable_amount DECIMAL(18,2),
    paid_amount DECIMAL(18,2), refund_status VARCHAR, refund_amount DECIMAL(18,2), net_amount DECIMAL(18,2),
    seller_key VARCHAR, seller_name_key VARCHAR, is_leader_order BOOLEAN, item_count INTEGER,
    source_file_sha256 VARCHAR, source_line BIGINT, export_ts TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS ingest.order_lines (
    order_id VARCHAR, line_no INTEGER, product_name VARCHAR, unit_price DECIMAL(18,2), quantity INTEGER,
    line_amount DECIMAL(18,2), refund_status VARCHAR, refund_amount DECIMAL(18,2), seller_key VARCHAR,
    source_file_sha256 VARCHAR, source_line BIGINT, export_ts TIMESTAMPTZ
);
-- id_keys / id_edges: one row per key (and masked name) / per pair and load batch (assets/staging/load.py
-- compact_identity_rows); n_files = how many files of the batch carry that key with that masked name (the weight
-- of the name in the most-frequent-name rule), source_file_sha256 = the first of them by hash.
CREATE TABLE IF NOT EXISTS ingest.id_keys (
    key VARCHAR, id_type VARCHAR, source_format VARCHAR, confidence VARCHAR, seen_at TIMESTAMPTZ,
    name_masked VARCHAR, phone_masked VARCHAR, is_staff BOOLEAN, customer_since TIMESTAMPTZ,
    source_file_sha256 VARCHAR, n_files BIGINT DEFAULT 1
);
-- warehouses loaded before n_files existed hold one row per (key, file): weight 1 each
ALTER TABLE ingest.id_keys ADD COLUMN IF NOT EXISTS n_files BIGINT DEFAULT 1;
CREATE TABLE IF NOT EXISTS ingest.id_edges (
    key_a VARCHAR, key_b VARCHAR, source_format VARCHAR, source_file_sha256 VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest.nick_links (nick_key VARCHAR, key VARCHAR, source_file_sha256 VARCHAR);
CREATE TABLE IF NOT EXISTS ingest.seller_names (name_key VARCHAR, key VARCHAR, n BIGINT, source_file_sha256 VARCHAR);
CREATE TABLE IF NOT EXISTS ingest.messages (
    message_id VARCHAR, group_key VARCHAR, sender_key VARCHAR, sent_at TIMESTAMPTZ, kind VARCHAR, length INTEGER,
    is_question BOOLEAN, is_owner_msg BOOLEAN, recalls_message_id VARCHAR, source_format VARCHAR,
    source_file_sha256 VARCHAR, source_line BIGINT
);
CREATE TABLE IF NOT EXISTS ingest.groups (
    group_key VARCHAR, source VARCHAR, group_name VARCHAR, owner_key VARCHAR, created_at TIMESTAMPTZ,
    snapshot_at TIMESTAMPTZ, source_format VARCHAR, source_file_sha256 VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest.group_events (
    group_key VARCHAR, member_key VARCHAR, event VARCHAR, event_at TIMESTAMPTZ, scene VARCHAR, inviter_key VARCHAR,
    source_format VARCHAR, source_file_sha256 VARCHAR, source_line BIGINT
);
CREATE TABLE IF NOT EXISTS ingest.wecom_members (
    group_key VARCHAR, member_key VARCHAR, member_type BIGINT, join_at TIMESTAMPTZ, scene VARCHAR,
    inviter_key VARCHAR, is_staff BOOLEAN, snapshot_at TIMESTAMPTZ, source_file_sha256 VARCHAR, source_line BIGINT
);
CREATE TABLE IF NOT EXISTS ingest.referrals (
    referrer_key VARCHAR, referee_key VARCHAR, referred_at TIMESTAMPTZ, channel VARCHAR, group_key VARCHAR,
    source_format VARCHAR, source_file_sha256 VARCHAR
);
