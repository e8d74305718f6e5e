-- Stable schema of the 大C contribution and fission mart (docs/marts/dac_contribution.md).
-- Tables are created once and then refreshed by DELETE + INSERT inside a transaction, so readers always see
-- either the old or the new content and the column list never changes under them.
-- No PRIMARY KEY constraints: an index makes every refresh several times slower, and uniqueness of the natural
-- keys (noted per table) is asserted by the asset checks instead.

CREATE SCHEMA IF NOT EXISTS marts;

-- Who is a 大C: the owner of a group in staging.groups, or an L4 member (marts.member_lifetime) who sold to
-- others as 分销员 / 团长 / 帮卖 on a paid order.
CREATE TABLE IF NOT EXISTS marts.dacs (
    dac_id VARCHAR NOT NULL,  -- unique
    is_l4               BOOLEAN NOT NULL,
    is_group_owner      BOOLEAN NOT NULL,
    is_seller           BOOLEAN NOT NULL,  -- named as seller on a paid order of someone else
    l4_at               DATE,
    first_group_at      DATE,
    dac_since           DATE,          -- earliest of l4_at and first_group_at
    groups_owned        INTEGER NOT NULL
);

-- One row per paid order, attributed three ways (all kept). 'brand_direct' = no 大C for that method.
CREATE TABLE IF NOT EXISTS marts.order_attribution (
    order_id VARCHAR NOT NULL,  -- unique
    member_id                   VARCHAR,
    paid_at                     TIMESTAMPTZ NOT NULL,
    week_start                  DATE NOT NULL,
    net_amount                  DECIMAL(18,2) NOT NULL,
    group_id                    VARCHAR,
    group_owner_dac_id          VARCHAR,
    first_touch_dac_id          VARCHAR,
    first_touch_referred_at     TIMESTAMPTZ,
    last_touch_dac_id           VARCHAR,
    attributed_dac_group        VARCHAR NOT NULL,
    attributed_dac_first_touch  VARCHAR NOT NULL,
    attributed_dac_last_touch   VARCHAR NOT NULL
);

-- The referral forest: one row per member that has a referral edge (as referrer or referee).
CREATE TABLE IF NOT EXISTS marts.referral_tree (
    member_id VARCHAR NOT NULL,  -- unique
    parent_id           VARCHAR,
    root_dac_id         VARCHAR NOT NULL,
    root_is_dac         BOOLEAN NOT NULL,
    generation          INTEGER NOT NULL,   -- 0 = root
    join_date           DATE,
    joined_at           TIMESTAMPTZ,
    is_dac              BOOLEAN NOT NULL
);

-- Referral input we could not use as-is: self-referrals and cycles (the cycle edge that closed the loop is cut).
CREATE TABLE IF NOT EXISTS marts.referral_anomalies (
    kind                VARCHAR NOT NULL,   -- self_referral | cycle
    member_id           VARCHAR NOT NULL,   -- the referee whose parent edge was dropped / who is on the cycle
    referrer_member_id  VARCHAR,
    cycle_id            VARCHAR,            -- smallest member_id on the cycle
    cycle_length        INTEGER,
    edge_dropped        BOOLEAN NOT NULL,
    detail_zh           VARCHAR NOT NULL,
    detail_en           VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS marts.referral_tree_stats (
    root_dac_id VARCHAR NOT NULL,  -- unique
    root_is_dac             BOOLEAN NOT NULL,
    tree_size               BIGINT NOT NULL,
    tree_depth              INTEGER NOT NULL,
    max_breadth             BIGINT NOT NULL,
    structural_virality     DOUBLE,
    k_factor                DOUBLE,
    cycle_time_days         DOUBLE,
    promoted_dacs           BIGINT NOT NULL,
    downline_gmv            DECIMAL(18,2) NOT NULL
);

-- Brand-wide K-factor per join cohort (month of first appearance).
CREATE TABLE IF NOT EXISTS marts.referral_kfactor_cohort (
    cohort_month        DATE NOT NULL,     -- unique
    cohort_members      BIGINT NOT NULL,
    referees_28d        BIGINT NOT NULL,
    k_factor            DOUBLE,
    cohort_complete     BOOLEAN NOT NULL
);

-- Downline GMV by generation: for insight only. Never a basis for multi-level payouts.
CREATE TABLE IF NOT EXISTS marts.referral_generation_gmv (
    root_dac_id         VARCHAR NOT NULL,
    generation          INTEGER NOT NULL,
    members             BIGINT NOT NULL,
    buyers              BIGINT NOT NULL,
    downline_gmv        DECIMAL(18,2) NOT NULL
    -- unique: (root_dac_id, generation)
);

CREATE TABLE IF NOT EXISTS marts.dac_contribution_weekly (
    week_start              DATE NOT NULL,
    dac_id                  VARCHAR NOT NULL,
    is_dac_this_week        BOOLEAN NOT NULL,
    own_gmv                 DECIMAL(18,2) NOT NULL,
    gmv_group               DECIMAL(18,2) NOT NULL,
    gmv_first_touch         DECIMAL(18,2) NOT NULL,
    gmv_last_touch          DECIMAL(18,2) NOT NULL,
    gmv_attributed_avg      DECIMAL(18,2) NOT NULL,
    attributed_orders       BIGINT NOT NULL,
    messages_sent           BIGINT NOT NULL,
    is_active               BOOLEAN NOT NULL,
    groups_owned            BIGINT NOT NULL,
    members_served          BIGINT NOT NULL,
    active_members          BIGINT NOT NULL,
    new_referrals           BIGINT NOT NULL,
    referee_first_orders    BIGINT NOT NULL,
    member_retention        DOUBLE,
    brand_retention         DOUBLE,
    retention_vs_brand      DOUBLE,
    promotions              BIGINT NOT NULL,
    referral_value          DECIMAL(18,2) NOT NULL,
    referral_value_to_date  DECIMAL(18,2) NOT NULL,
    own_gmv_to_date         DECIMAL(18,2) NOT NULL,
    historic_clv            DECIMAL(18,2),
    predicted_clv_12m       DECIMAL(18,2),
    clv_referral_cell       VARCHAR NOT NULL,
    rank                    INTEGER NOT NULL
    -- unique: (week_start, dac_id)
);

CREATE TABLE IF NOT EXISTS marts.dac_concentration_weekly (
    week_start              DATE NOT NULL,
    method                  VARCHAR NOT NULL,   -- group | first_touch | last_touch | average
    dacs                    BIGINT NOT NULL,
    total_gmv               DECIMAL(18,2) NOT NULL,
    dac_gmv                 DECIMAL(18,2) NOT NULL,
    brand_direct_gmv        DECIMAL(18,2) NOT NULL,
    gini                    DOUBLE,
    dacs_for_half_gmv       INTEGER,
    top20_share             DOUBLE
    -- unique: (week_start, method)
);

CREATE TABLE IF NOT EXISTS marts.dac_alerts (
    week_start              DATE NOT NULL,
    dac_id                  VARCHAR NOT NULL,
    alert_type              VARCHAR NOT NULL,   -- silent_top_dac | new_dac
    silent_days             INTEGER,
    last_active_at          TIMESTAMPTZ,
    activity_8w             BIGINT,
    reason_zh               VARCHAR NOT NULL,
    reason_en               VARCHAR NOT NULL
    -- unique: (week_start, dac_id, alert_type)
);
