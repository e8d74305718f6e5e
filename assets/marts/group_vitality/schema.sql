-- Tables of the group vitality mart (docs/marts/group_vitality.md). Created if missing; the build fills them.

CREATE TABLE IF NOT EXISTS marts.group_vitality_weekly (
    group_id                        VARCHAR NOT NULL,
    week_start                      DATE NOT NULL,      -- Monday, Asia/Shanghai
    owner_member_id                 VARCHAR,
    group_created_at                TIMESTAMPTZ,
    group_age_days                  INTEGER,
    observed_days                   DOUBLE,             -- days of this week the group existed, up to the as-of time
    members_end                     INTEGER,
    joins                           INTEGER,
    leaves                          INTEGER,
    net_growth                      INTEGER,
    growth_rate                     DOUBLE,
    messages                        INTEGER,
    member_messages                 INTEGER,
    owner_messages                  INTEGER,
    senders                         INTEGER,
    speakers                        INTEGER,
    speak_rate                      DOUBLE,
    messages_per_speaker            DOUBLE,
    messages_per_member             DOUBLE,
    owner_share                     DOUBLE,
    owner_dependence                INTEGER,
    member_questions                INTEGER,
    answered_questions              INTEGER,
    median_first_response_minutes   DOUBLE,
    buyers                          INTEGER,
    orders                          INTEGER,
    gmv                             DECIMAL(18,2),
    conversion                      DOUBLE,
    gmv_per_member                  DOUBLE,
    score_speak_rate                DOUBLE,
    score_activity                  DOUBLE,
    score_conversion                DOUBLE,
    score_growth                    DOUBLE,
    score_response                  DOUBLE,
    vitality_score                  DOUBLE,
    score_4w_avg                    DOUBLE,
    score_4w_avg_prev               DOUBLE,
    last_member_activity_at         TIMESTAMPTZ,
    silence_days                    DOUBLE,
    silence_expected_activity       DOUBLE,
    lifecycle_state                 VARCHAR,
    prev_lifecycle_state            VARCHAR,
    is_zombie                       BOOLEAN,
    zombie_since                    DATE,
    PRIMARY KEY (group_id, week_start)
);

CREATE TABLE IF NOT EXISTS marts.group_brand_weekly (
    week_start          DATE PRIMARY KEY,
    chat_total          INTEGER,
    chat_has_msg        INTEGER,
    new_chat_cnt        INTEGER,
    member_total        INTEGER,
    member_has_msg      INTEGER,
    msg_total           INTEGER,
    new_member_cnt      INTEGER,
    speakers            INTEGER,
    buyers              INTEGER,
    gmv                 DECIMAL(18,2),
    active_groups       INTEGER,
    declining_groups    INTEGER,
    dormant_groups      INTEGER,
    zombie_groups       INTEGER,
    avg_vitality_score  DOUBLE
);

CREATE TABLE IF NOT EXISTS marts.group_alerts (
    week_start              DATE NOT NULL,
    group_id                VARCHAR NOT NULL,
    owner_member_id         VARCHAR,
    alert_type              VARCHAR NOT NULL,   -- zombie | declining
    prev_lifecycle_state    VARCHAR,
    vitality_score          DOUBLE,
    score_4w_avg            DOUBLE,
    score_4w_avg_prev       DOUBLE,
    silence_days            DOUBLE,
    zombie_since            DATE,
    members_end             INTEGER,
    reason_zh               VARCHAR NOT NULL,
    reason_en               VARCHAR NOT NULL,
    PRIMARY KEY (week_start, group_id)
);

CREATE TABLE IF NOT EXISTS marts.group_survival (
    cohort                  VARCHAR NOT NULL,   -- creation month YYYY-MM, or 'all'
    cohort_groups           INTEGER NOT NULL,
    t_days                  INTEGER NOT NULL,
    at_risk                 INTEGER NOT NULL,
    events                  INTEGER NOT NULL,
    censored                INTEGER NOT NULL,
    survival                DOUBLE NOT NULL,
    median_survival_days    DOUBLE,
    PRIMARY KEY (cohort, t_days)
);
