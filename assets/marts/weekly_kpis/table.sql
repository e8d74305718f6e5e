-- marts.weekly_kpis: one row per week (Monday, Asia/Shanghai) with the brand's headline KPIs.
-- Column names equal metric keys in xiaoshuju/metrics/overview.py; *_wow columns are week-over-week ratios
-- ((this week − last week) / last week; NULL when last week was 0 or unknown).
CREATE TABLE IF NOT EXISTS marts.weekly_kpis (
    week_start               DATE PRIMARY KEY,   -- Monday of the week, Asia/Shanghai
    week_label               VARCHAR NOT NULL,   -- ISO week, e.g. 2026-W47
    gmv                      DECIMAL(18,2) NOT NULL,
    orders                   BIGINT NOT NULL,
    buyers                   BIGINT NOT NULL,
    new_members              BIGINT NOT NULL,
    active_groups            BIGINT,             -- NULL when the group vitality mart is not built
    zombie_groups            BIGINT,
    active_dacs              BIGINT,             -- NULL when the member lifetime mart is not built
    new_dacs                 BIGINT,
    predicted_clv_12m_base   DECIMAL(18,2),      -- only for the week holding the CLV as-of date; kept afterwards
    gmv_attr_group           DECIMAL(18,2),      -- GMV attributed to a 大C by group (buyer's group owner)
    gmv_attr_first_touch     DECIMAL(18,2),      -- ... by first-touch referrer
    gmv_attr_last_touch      DECIMAL(18,2),      -- ... by last touch (分销员/团长 on the order)
    gmv_wow                  DOUBLE,
    orders_wow               DOUBLE,
    buyers_wow               DOUBLE,
    new_members_wow          DOUBLE,
    active_groups_wow        DOUBLE,
    zombie_groups_wow        DOUBLE,
    active_dacs_wow          DOUBLE,
    new_dacs_wow             DOUBLE,
    predicted_clv_12m_base_wow DOUBLE,
    built_at                 TIMESTAMPTZ NOT NULL
);
