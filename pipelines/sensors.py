"""Inbox sensor: a new or changed export in inbox/ starts an ingest run; publish sensor: once staging holds data
the marts have not seen, a publish run rebuilds the weeks it can change.

Two steps because the weeks to rebuild depend on the new files' event times, which only ingestion learns (a sensor
must not open the warehouse: a run may be writing it). The staging asset records them in its materialisation
metadata; ``publish_sensor`` reads them from the Dagster instance (pipelines.increments.publish_range).

The cursor is JSON ``{"files": {relative path: [size, mtime_ns]}}`` for the files currently in the inbox (landing
moves each file to the archive, so the map stays small). The run key is a hash of the new/changed files' names,
sizes and times: re-evaluating the same inbox never launches a second run, and while a refresh run is still
queued (its landing step not yet run) new files ride along with it instead of queueing another run. A file still being copied (modified in
the last ``settle`` seconds, or named ``*.part``/``*.tmp``) waits for the next tick.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg

from assets.landing.register import inbox_files
from pipelines.increments import MARTS_ALL, MARTS_TAG, publish_range, unpublished_staging
from pipelines.jobs import ingest_job, publish_job, refresh_job
from pipelines.partitions import full_history_range, range_tags
from pipelines.resources import SettingsResource

SETTLE_SECONDS = float(os.environ.get("XIAOSHUJU_INBOX_SETTLE_SECONDS", "2"))


def scan_inbox(inbox: Path, settle: float = SETTLE_SECONDS, now: float | None = None) -> tuple[dict, list]:
    """{relative path: [size, mtime_ns]} of settled files, and the names of files still being written."""
    now = time.time() if now is None else now
    seen, settling = {}, []
    for p in inbox_files(inbox) if inbox.exists() else []:
        try:
            st = p.stat()
        except FileNotFoundError:  # archived by a running landing step meanwhile
            continue
        if now - st.st_mtime < settle:
            settling.append(str(p.relative_to(inbox)))
            continue
        seen[str(p.relative_to(inbox))] = [st.st_size, st.st_mtime_ns]
    return seen, settling


def changed_files(seen: dict, previous: dict) -> list[str]:
    return sorted(name for name, sig in seen.items() if previous.get(name) != sig)


def run_key_for(seen: dict, names: list[str]) -> str:
    h = hashlib.sha256()
    for name in names:
        h.update(json.dumps([name, *seen[name]]).encode())
    return "inbox-" + h.hexdigest()[:20]


@dg.sensor(
    name="inbox_sensor",
    job=ingest_job,
    minimum_interval_seconds=int(os.environ.get("XIAOSHUJU_INBOX_SENSOR_INTERVAL", "30")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed files in inbox/ → an ingest run (landing + staging); publish_sensor follows.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, settings: SettingsResource):
    s = settings.get()
    previous = json.loads(context.cursor)["files"] if context.cursor else {}
    seen, settling = scan_inbox(s.inbox)
    names = changed_files(seen, previous)
    # Signatures of the files still in the inbox only: archived files drop out, so the cursor stays small.
    kept = {k: previous[k] for k in settling if k in previous}
    context.update_cursor(json.dumps({"files": {**kept, **seen}}))
    if not names:
        return dg.SkipReason("inbox: nothing new" + (" (a file is still being written)" if settling else ""))
    landing = dg.AssetKey(["landing", "manifest"])
    waiting = [
        r
        for r in context.instance.get_runs(
            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]),
            limit=20,
        )
        if r.job_name in (ingest_job.name, refresh_job.name)
        and (r.asset_selection is None or landing in r.asset_selection)  # it will ingest
    ]
    if waiting:  # its landing step has not run yet, so it will take these files too
        return dg.SkipReason(f"{len(names)} new file(s) will be ingested by queued run {waiting[0].run_id}")
    listing = ", ".join(names[:10]) + (f" … (+{len(names) - 10})" if len(names) > 10 else "")
    context.log.info(f"{len(names)} new/changed file(s): {listing}")
    return dg.RunRequest(
        run_key=run_key_for(seen, names),
        tags={"xiaoshuju/trigger": "inbox", "xiaoshuju/files": str(len(names))},
    )


ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def publish_request(
    instance: dg.DagsterInstance, run_key: str | None, trigger: str, full: bool = False, now=None
) -> dg.RunRequest:
    """A publish-job RunRequest over publish_range (the whole partitions definition when the instance does not know
    where the data starts)."""
    decided = publish_range(instance, full=full, now=now)
    (start, end), why = decided or (full_history_range(now), "full history (no staging event metadata)")
    return dg.RunRequest(
        run_key=run_key,
        tags={
            **range_tags(start, end),
            MARTS_TAG: MARTS_ALL,
            "xiaoshuju/trigger": trigger,
            "xiaoshuju/range": why,
        },
    )


@dg.sensor(
    name="publish_sensor",
    job=publish_job,
    minimum_interval_seconds=int(os.environ.get("XIAOSHUJU_INBOX_SENSOR_INTERVAL", "30")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Staging holds data the marts have not seen (materialised after the last successful publish run "
    "started) → a publish run over the weeks it can change. Waits while an ingest or publish run is active.",
)
def publish_sensor(context: dg.SensorEvaluationContext):
    pending = unpublished_staging(context.instance)
    if not pending:
        return dg.SkipReason("marts are up to date with staging")
    busy = [
        r
        for r in context.instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE), limit=50)
        if r.job_name in (ingest_job.name, publish_job.name, refresh_job.name)
    ]
    if busy:  # let it finish: one publish run then covers everything staged meanwhile
        return dg.SkipReason(f"waiting for run {busy[0].run_id} ({busy[0].job_name}) to finish")
    # one run per staging state: a failed publish is not retried in a loop (the alert sensor reports it; the next
    # ingest, the daily schedule or `xiaoshuju run` rebuilds from the last successful publish)
    req = publish_request(context.instance, f"publish-{pending[0].storage_id}", "staging")
    context.log.info(f"{len(pending)} staging materialisation(s) unpublished → {req.tags['xiaoshuju/range']}")
    return req
