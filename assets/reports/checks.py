"""Which blocking data checks failed for a week — from the Dagster instance and/or the serving snapshot.

A check *blocks* the report when its latest evaluation failed with severity ERROR, and it is either not
partitioned or evaluated for the report's week. Two sources, merged:

* the Dagster instance (``context.instance`` inside the asset; ``$XIAOSHUJU_HOME/dagster_home`` from the CLI):
  the latest recorded evaluation of every asset check;
* a table ``ops.check_status`` in the serving snapshot, if the pipeline publishes one
  (columns ``asset, check_name, passed, severity[, partition]``), so a report rendered where there is no Dagster
  instance still refuses a week whose data failed its checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from xiaoshuju.serving import Snapshot

SNAPSHOT_TABLE = "ops.check_status"
OWN_ASSET = "reports/weekly_pdf"


@dataclass(frozen=True)
class CheckStatus:
    asset: str  # "marts/member_lifetime"
    check: str
    passed: bool
    severity: str  # ERROR | WARN
    partition: str | None = None

    @property
    def blocking_failure(self) -> bool:
        return not self.passed and self.severity.upper() == "ERROR"

    def describe(self) -> str:
        where = f" [{self.partition}]" if self.partition else ""
        return f"{self.asset} · {self.check}{where} ({self.severity})"


def _applies(status: CheckStatus, week_key: str) -> bool:
    return status.partition in (None, "", week_key) and status.asset != OWN_ASSET


def from_snapshot(snap: Snapshot, week_key: str) -> list[CheckStatus]:
    if not snap.has(SNAPSHOT_TABLE):
        return []
    df = snap.table(SNAPSHOT_TABLE)
    out = []
    for r in df.to_dicts():
        s = CheckStatus(
            asset=str(r.get("asset") or r.get("asset_key") or ""),
            check=str(r.get("check_name") or r.get("check") or ""),
            passed=bool(r.get("passed")),
            severity=str(r.get("severity") or "ERROR"),
            partition=r.get("partition") or None,
        )
        if _applies(s, week_key):
            out.append(s)
    return out


def from_instance(instance, week_key: str, check_keys=None, limit: int = 5000) -> list[CheckStatus]:
    """Latest evaluation per (asset, check, partition) recorded in the Dagster instance that applies to the week.

    Reads the newest ``limit`` check-evaluation events (no need to know the code location: the CLI uses this on
    ``$XIAOSHUJU_HOME/dagster_home``). ``check_keys``, when given, restricts to checks still defined in code.
    """
    return [s for s in latest_check_statuses(instance, check_keys, limit) if _applies(s, week_key)]


def latest_check_statuses(instance, check_keys=None, limit: int = 5000) -> list[CheckStatus]:
    """Latest evaluation per (asset, check, partition) recorded in the Dagster instance, for every week."""
    import dagster as dg

    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION),
        limit=limit,
        ascending=False,
    )
    wanted = {(k.asset_key.to_user_string(), k.name) for k in check_keys} if check_keys else None
    latest: dict[tuple, CheckStatus] = {}
    for rec in records:
        event = rec.event_log_entry.dagster_event
        ev = event.event_specific_data if event else None
        if ev is None or not hasattr(ev, "check_name"):
            continue
        asset = ev.asset_key.to_user_string()
        if wanted is not None and (asset, ev.check_name) not in wanted:
            continue
        partition = getattr(ev, "partition", None) or getattr(event, "partition", None)
        key = (asset, ev.check_name, partition)
        if key in latest:  # newest first: an older evaluation never overrides
            continue
        severity = getattr(getattr(ev, "severity", None), "value", None) or "ERROR"
        latest[key] = CheckStatus(asset, ev.check_name, bool(ev.passed), str(severity), partition)
    return list(latest.values())


def merge(*sources: list[CheckStatus]) -> list[CheckStatus]:
    """One status per (asset, check, partition); later sources win."""
    out: dict[tuple, CheckStatus] = {}
    for src in sources:
        for s in src:
            out[(s.asset, s.check, s.partition)] = s
    return list(out.values())
