"""Which weeks a marts run must rebuild — decided from the Dagster instance, never from the warehouse.

The staging asset records two times in its materialisation metadata (``staging_event_metadata``):

- ``first_event_at``: the earliest business event in staging (orders, messages, memberships, referrals) — where
  the data begins, so a full rebuild starts there instead of at the first partition (2024-11-25);
- ``new_data_first_event_at``: the earliest event among the files ingested by that run (per file, its earliest
  staged event row, else its manifest ``first_ts``; see ``staging_event_metadata``). Absent when the run
  ingested no file, or none of them has a time.

A *publish* run (every mart, then the serving snapshot; tag ``xiaoshuju/marts=all``) then rebuilds only the weeks
new data can change: from the week of the earliest new event since the last successful publish run started, minus
``lookback_weeks()``, through the current week. Sensors, schedules and ``materialize_all`` all use ``publish_range``.

**Look-back.** The marts' rolling windows look *backwards* (group vitality's 4-week decline and 8-week slice,
the 21-day zombie rule, 大C retention w-7..w and the 8-week at-risk window, lifecycle dormant/churned at 90/180
days): week X depends on events up to X's end, so an event in week W changes weeks ≥ W only, and each builder
itself reads as far back as its window needs. What reaches *forward* is smaller: a question's first response
(group vitality ``REPLY_CAP_DAYS`` = 7 and ``staging.messages.first_response_at``) — a reply in week W changes the
question's week W-1 — and the first-touch grace of order attribution (``FIRST_TOUCH_GRACE_DAYS`` = 1). So one
week covers every forward reach; ``lookback_weeks()`` = 2 adds one week of margin. A run over more weeks is
always correct, only slower; ``full=True`` (``xiaoshuju run --full``) rebuilds from the data's first week.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.partitions import data_range, first_event_at, full_history_range, week_key
from xiaoshuju.warehouse import EVENT_COLUMNS

MARGIN_WEEKS = 1


def lookback_weeks() -> int:
    """Weeks before the earliest new event that a publish run also rebuilds: the marts' forward reach in whole
    weeks plus MARGIN_WEEKS (imported lazily: the staging asset imports this module)."""
    from assets.marts.dac_contribution.attribution import FIRST_TOUCH_GRACE_DAYS
    from assets.marts.group_vitality.build import REPLY_CAP_DAYS

    return math.ceil(max(REPLY_CAP_DAYS, FIRST_TOUCH_GRACE_DAYS) / 7) + MARGIN_WEEKS


STAGING_KEY = dg.AssetKey(["staging", "orders"])  # every staging materialisation writes all its tables
FIRST_EVENT = "first_event_at"
NEW_FIRST_EVENT = "new_data_first_event_at"
MARTS_TAG = "xiaoshuju/marts"  # "all": the run rebuilt every mart (a publish run)
MARTS_ALL = "all"


# ---- written by the staging asset ----------------------------------------------------------------------------
def staging_event_metadata(conn, new_file_shas: list[str]) -> dict:
    """Metadata for the staging materialisation: the data's first event and the earliest event of the files
    ingested now. Per file: the earliest staged event row that came from it (a refund re-export carries an old
    order; a snapshot file such as a WeCom group detail lists members who joined long ago, but staging keeps
    their first record, so only the new joins count); a file that left no event row counts with its manifest
    ``first_ts`` (customer exports); a file with no time at all (order lines: their orders carry the times) is
    not placed. Rows of older files that this rebuild changed (identity re-resolved: ``staging_rebuild_changes``,
    written by assets.staging.build) count too."""
    first = first_event_at(conn)
    # always present (null without data): its presence says this staging version writes the metadata
    md: dict = {FIRST_EVENT: dg.MetadataValue.null() if first is None else dg.MetadataValue.timestamp(first)}
    if not new_file_shas:
        return md
    existing = set(conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())
    changed = None  # earliest row of an older file that this rebuild changed (assets.staging.build._record_changes)
    if any(t == "staging_rebuild_changes" for _, t in existing):  # a temp table of this connection
        changed = conn.execute("SELECT first_changed_at FROM staging_rebuild_changes").fetchone()[0]
    parts = [
        f'SELECT source_file_sha256 AS sha, min("{col}") AS ts FROM staging."{table}" '
        "WHERE list_contains($shas, source_file_sha256) GROUP BY 1"
        for table, col in EVENT_COLUMNS
        if ("staging", table) in existing
    ]
    staged = " UNION ALL ".join(parts) or "SELECT NULL::VARCHAR AS sha, NULL::TIMESTAMPTZ AS ts WHERE false"
    (new_first,) = conn.execute(
        f"""WITH staged AS ({staged}),
                 per_file AS (SELECT sha, min(ts) AS ts FROM staged GROUP BY 1)
            SELECT min(coalesce(p.ts, m.first_ts)) FROM landing.manifest m LEFT JOIN per_file p
              ON p.sha = m.file_sha256 WHERE list_contains($shas, m.file_sha256)""",
        {"shas": list(new_file_shas)},
    ).fetchone()
    new_first = min((t for t in (new_first, changed) if t is not None), default=None)
    if new_first is not None:
        md[NEW_FIRST_EVENT] = dg.MetadataValue.timestamp(new_first)
    return md


# ---- read by sensors, schedules and materialize_all -----------------------------------------------------------
def _ts(md: dict, key: str) -> datetime | None:
    v = md.get(key)
    if v is None:
        return None
    v = getattr(v, "value", v)
    if isinstance(v, datetime):
        return v
    if isinstance(v, (int, float)):
        return datetime.fromtimestamp(v, tz=UTC)
    return datetime.fromisoformat(str(v))


def last_publish_start(instance: dg.DagsterInstance) -> float | None:
    """Start time (epoch s) of the newest successful run that rebuilt every mart, or None."""
    recs = instance.get_run_records(
        filters=dg.RunsFilter(tags={MARTS_TAG: MARTS_ALL}, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
    )
    if not recs:
        return None
    return recs[0].start_time or recs[0].create_timestamp.timestamp()


def staging_records(instance: dg.DagsterInstance, after: float | None = None, limit: int = 1000) -> list:
    """Staging materialisations (newest first), only those after ``after`` (epoch s) when given."""
    return list(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=STAGING_KEY, after_timestamp=after), limit=limit
        ).records
    )


def _metadata(record) -> dict:
    return record.event_log_entry.asset_materialization.metadata


def unpublished_staging(instance: dg.DagsterInstance) -> list:
    """Staging materialisations the marts have not seen: after the last successful publish run started."""
    return staging_records(instance, after=last_publish_start(instance))


def publish_range(
    instance: dg.DagsterInstance, full: bool = False, now: datetime | None = None
) -> tuple[tuple[str, str], str] | None:
    """((first, last) partition keys, why) for a publish run, or None when the instance does not know where the
    data starts (no staging materialisation with event metadata yet) — the caller then falls back.

    Full (``full=True``, no earlier successful publish run, or a staging materialisation without the metadata):
    the data's first week → current week. Incremental: the earliest week among (the earliest new event since the
    last publish run started − lookback_weeks()) and the week that run started in (so weeks that were still running
    or did not exist then are built) → current week, never before the data's first week."""
    latest = staging_records(instance, limit=1)
    if not latest:
        return None
    if FIRST_EVENT not in _metadata(latest[0]):
        return None  # a staging asset that does not write the metadata (toy graphs, older versions)
    first = _ts(_metadata(latest[0]), FIRST_EVENT)
    full_range = data_range(first, now)
    if full:
        return full_range, "full rebuild (asked)"
    since = last_publish_start(instance)
    if since is None:
        return full_range, "full rebuild (no earlier publish run)"
    records = staging_records(instance, after=since)
    back = lookback_weeks()
    starts = [week_key(datetime.fromtimestamp(since, tz=UTC))]
    for r in records:
        md = _metadata(r)
        if FIRST_EVENT not in md:
            return full_range, "full rebuild (staging metadata missing)"
        new = _ts(md, NEW_FIRST_EVENT)
        if new is not None:
            starts.append(week_key(new - timedelta(weeks=back)))
    lo, hi = full_history_range(now)
    start = min(max(min(starts), full_range[0], lo), hi)
    why = f"incremental: {len(records)} staging run(s) since the last publish, look-back {back} weeks"
    return (start, hi), why
