"""Alert sensor and run watchdog.

Dagster's run-failure sensors do not fire when an asset check fails inside a successful run, so one sensor reads
both kinds of evidence straight from the instance: for every run finished since its cursor, the failed steps and
the failed ASSET_CHECK_EVALUATION events in the run's event log; it hands them to ``pipelines.alerting``. Reading the
event log (not the warehouse) means the sensor never touches the DuckDB file a run may be writing. It also sees
runs launched in-process by ``xiaoshuju run``, which job-scoped run-status sensors would miss.

The watchdog marks runs whose process is gone (SIGKILL, OOM, power loss) as failed and frees their pool slots;
the default run launcher cannot notice a dead run worker by itself, and a dead run would otherwise hold the
single ``duckdb_writer`` slot for ever.
"""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType

from pipelines.alerting import Alert, asset_checks_link, deliver, run_link
from pipelines.resources import SettingsResource

PID_TAG = (
    "xiaoshuju/pid"  # set by in-process runs (pipelines.runner); daemon runs log their pid in an engine event
)
BATCH = 500
EDGE_SECONDS = 120  # re-read runs updated this long before the cursor, in case timestamps tie or lag


def _failed_assets(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[tuple[str, str]]:
    """(asset path, error) for each failed step of a run."""
    by_step: dict[str, list] = {}
    for rec in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED):
        ev = rec.dagster_event
        by_step.setdefault(ev.step_key or "", []).append(ev.asset_key)
    out = []
    for rec in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
        ev = rec.dagster_event
        keys = by_step.get(ev.step_key or "", [])
        err = ev.step_failure_data.error if ev.step_failure_data else None
        while err is not None and err.cause is not None:  # the user's exception, not Dagster's wrapper
            err = err.cause
        msg = (err.message.strip().splitlines() or [""])[-1][:300] if err else ""
        out.append((", ".join("/".join(k.path) for k in keys) or (ev.step_key or ""), msg))
    return out


def _run_failure_alerts(instance: dg.DagsterInstance, run: dg.DagsterRun, dagit_url: str) -> list[Alert]:
    failed = _failed_assets(instance, run)
    if not failed:
        ends = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
        failed = [("", (ends[-1].dagster_event.message or "") if ends else "run failed")]
    return [
        Alert(
            kind="run_failure",
            asset=asset,
            check="",
            run_id=run.run_id,
            job=run.job_name,
            severity="ERROR",
            detail=msg,
            link=run_link(dagit_url, run.run_id),
        )
        for asset, msg in failed
    ]


def _check_alerts(instance: dg.DagsterInstance, run: dg.DagsterRun, dagit_url: str) -> list[Alert]:
    grouped: dict[tuple, list] = {}
    for rec in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        ev = rec.dagster_event.event_specific_data
        if not ev.passed:
            grouped.setdefault((tuple(ev.asset_key.path), ev.check_name), []).append(ev)
    alerts = []
    for (path, check_name), evs in grouped.items():
        first = evs[0]
        partitions = sorted({e.partition for e in evs if e.partition})
        detail = first.description or ""
        shown = {
            k: v.value for k, v in first.metadata.items() if isinstance(v.value, (str, int, float, bool))
        }
        if shown:
            detail = (detail + " " if detail else "") + json.dumps(shown, ensure_ascii=False, default=str)[
                :400
            ]
        alerts.append(
            Alert(
                kind="check_failed",
                asset="/".join(path),
                check=check_name,
                run_id=run.run_id,
                job=run.job_name,
                severity=first.severity.value,
                detail=detail,
                link=asset_checks_link(dagit_url, list(path)),
                partitions=", ".join(partitions[:20]) + (" …" if len(partitions) > 20 else ""),
            )
        )
    return alerts


def collect_alerts(instance: dg.DagsterInstance, cursor: dict, dagit_url: str) -> tuple[list[Alert], dict]:
    """Alerts for runs that finished since ``cursor`` and the next cursor.

    Works per finished run (failed steps, failed check evaluations), so it runs on the default run-sharded SQLite
    event log as well as on Postgres. Cursor: {"after": update timestamp, "seen": run ids at that edge}.
    """
    first_tick = "after" not in cursor  # start from now, do not alert on history
    after, seen = float(cursor.get("after", time.time())), set(cursor.get("seen", []))
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
            updated_after=datetime.fromtimestamp(after - EDGE_SECONDS, UTC),
        ),
        order_by="update_timestamp",
        ascending=True,
        limit=BATCH,
    )
    alerts: list[Alert] = []
    newest = after
    for rec in records:
        run = rec.dagster_run
        if run.run_id in seen:
            continue
        if first_tick:
            seen.add(run.run_id)
            continue
        if run.status == dg.DagsterRunStatus.FAILURE:
            alerts += _run_failure_alerts(instance, run, dagit_url)
        alerts += _check_alerts(instance, run, dagit_url)
        seen.add(run.run_id)
        newest = max(newest, rec.update_timestamp.timestamp())
    # Remember ids inside the overlap window only; older runs can no longer come back through the filter.
    keep = {
        r.dagster_run.run_id for r in records if r.update_timestamp.timestamp() >= newest - 2 * EDGE_SECONDS
    }
    return alerts, {"after": newest, "seen": sorted(seen & keep)}


@dg.sensor(
    name="alert_on_failures",
    minimum_interval_seconds=int(os.environ.get("XIAOSHUJU_ALERT_SENSOR_INTERVAL", "30")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Emails and logs every failed run and every failed asset check (reads the event log).",
)
def alert_on_failures(context: dg.SensorEvaluationContext, settings: SettingsResource):
    s = settings.get()
    cursor = json.loads(context.cursor) if context.cursor else {}
    alerts, new_cursor = collect_alerts(context.instance, cursor, s.dagit_url)
    status = deliver(s, alerts) if alerts else None
    context.update_cursor(json.dumps(new_cursor))
    if not alerts:
        return dg.SkipReason("no new failed runs or checks")
    context.log.info(f"{len(alerts)} alert(s); email {status}")
    return dg.SkipReason(f"alerted {len(alerts)}: email {status}")


# ---- watchdog ---------------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:  # a killed child not yet reaped by its parent is a zombie: gone for our purposes
        for line in status.read_text().splitlines():
            if line.startswith("State:"):
                return "Z" not in line.split()[1]
    except OSError:
        pass
    return True


def run_pid(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    if PID_TAG in run.tags:
        return int(run.tags[PID_TAG])
    for rec in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        ev = rec.dagster_event
        if ev.message and ev.message.startswith("Started process for run"):
            pid = ev.engine_event_data.metadata.get("pid")
            if pid is not None:
                return int(pid.value)
    return None


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark started runs whose process no longer exists as failed and free their concurrency slots."""
    reaped = []
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    )
    for run in runs:
        pid = run_pid(instance, run)
        if pid is None or _pid_alive(pid):
            continue
        instance.report_run_failed(
            run, f"run process {pid} is gone (killed or crashed); marked failed by the xiaoshuju watchdog"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


@dg.sensor(
    name="run_watchdog",
    minimum_interval_seconds=int(os.environ.get("XIAOSHUJU_WATCHDOG_INTERVAL", "30")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails runs whose process was killed and frees their duckdb_writer slot, so the next run can write.",
)
def run_watchdog(context: dg.SensorEvaluationContext):
    reaped = reap_dead_runs(context.instance)
    return dg.SkipReason(f"marked {len(reaped)} dead run(s) failed: {reaped}" if reaped else "all runs alive")
