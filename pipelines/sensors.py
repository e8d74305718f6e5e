"""Inbox sensor: a new or changed export in inbox/ starts a refresh run.

The cursor is JSON ``{"files": {relative path: [size, mtime_ns]}}`` for the files currently in the inbox (landing
moves each file to the archive, so the map stays small). The run key is a hash of the new/changed files' names,
sizes and times: re-evaluating the same inbox never launches a second run, and while a refresh run is still
queued (its landing step not yet run) new files ride along with it instead of queueing another full rebuild. A file still being copied (modified in
the last ``settle`` seconds, or named ``*.part``/``*.tmp``) waits for the next tick.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg

from assets.landing.register import inbox_files
from pipelines.jobs import refresh_job
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
    job=refresh_job,
    minimum_interval_seconds=int(os.environ.get("XIAOSHUJU_INBOX_SENSOR_INTERVAL", "30")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed files in inbox/ → ingest, rebuild the marts, publish a snapshot.",
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
            filters=dg.RunsFilter(
                job_name=refresh_job.name,
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
            ),
            limit=20,
        )
        if r.asset_selection is None or landing in r.asset_selection  # it will ingest
    ]
    if waiting:  # its landing step has not run yet, so it will take these files too
        return dg.SkipReason(f"{len(names)} new file(s) will be ingested by queued run {waiting[0].run_id}")
    start, end = full_history_range()
    listing = ", ".join(names[:10]) + (f" … (+{len(names) - 10})" if len(names) > 10 else "")
    context.log.info(f"{len(names)} new/changed file(s): {listing}")
    return dg.RunRequest(
        run_key=run_key_for(seen, names),
        tags={**range_tags(start, end), "xiaoshuju/trigger": "inbox", "xiaoshuju/files": str(len(names))},
    )
