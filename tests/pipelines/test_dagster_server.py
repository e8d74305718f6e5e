"""Acceptance: the real dagster-webserver + dagster-daemon on 127.0.0.1, observed through Dagster's GraphQL API.

One server for the module (start-up is the slow part); the tests run in file order and build on each other:
inbox sensor → ingest run → publish sensor → publish run → one-partition run → SIGKILL mid-marts → reader during a
full run → broken input alert.
The graph is tests/pipelines/toy_graph.py (real landing, toy staging/mart/report, real serving snapshot), so these
tests exercise the orchestration whatever state the other layers are in.
"""

import json
import os
import shutil
import signal
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster_server import REPO, DagsterServer, Inbox, free_port, wait_for

from pipelines.alerts import run_pid
from pipelines.runner import init_instance_storage
from xiaoshuju.serving import current_snapshot
from xiaoshuju.settings import load_settings

pytestmark = [pytest.mark.dagster_server, pytest.mark.slow]

LOCATION = "toy"
YOUZAN_HEADER = REPO / "tests" / "fixtures" / "formats" / "youzan_orders_订单数据.header.csv"
SH = ZoneInfo("Asia/Shanghai")


def _week(days_back: int) -> str:
    d = datetime.now(SH) - timedelta(days=days_back)
    return (d - timedelta(days=d.weekday())).strftime("%Y-%m-%d")


START, PREV, CURRENT_WEEK = _week(21), _week(7), _week(0)
RANGE = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": CURRENT_WEEK}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from aiosmtpd.controller import Controller

    root = tmp_path_factory.mktemp("dagster_server")
    home = root / "xhome"
    settings = load_settings(home).ensure_dirs()
    dh = root / "dagster_home"
    dh.mkdir()
    shutil.copyfile(REPO / "pipelines" / "dagster.yaml", dh / "dagster.yaml")
    init_instance_storage(dh)
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_file:\n"
        f"      relative_path: {REPO / 'tests' / 'pipelines' / 'toy_graph.py'}\n"
        f"      working_directory: {REPO}\n      location_name: {LOCATION}\n",
        encoding="utf-8",
    )
    mail = Inbox()
    smtp_port = free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    server = DagsterServer(
        workspace,
        dh,
        port=port,
        log_dir=root,
        env={
            "XIAOSHUJU_HOME": str(home),
            "XIAOSHUJU_HMAC_KEY": "test-secret-not-for-production",
            "XIAOSHUJU_PARTITION_START": START,
            "XIAOSHUJU_INBOX_SENSOR_INTERVAL": "3",
            "XIAOSHUJU_ALERT_SENSOR_INTERVAL": "3",
            "XIAOSHUJU_WATCHDOG_INTERVAL": "3",
            "XIAOSHUJU_INBOX_SETTLE_SECONDS": "1",
            "XIAOSHUJU_SMTP_HOST": "127.0.0.1",
            "XIAOSHUJU_SMTP_PORT": str(smtp_port),
            "XIAOSHUJU_SMTP_ALERT_RECIPIENTS": "data-team@example.invalid",
            "XIAOSHUJU_DAGIT_URL": f"http://127.0.0.1:{port}",
            "GX_ANALYTICS_ENABLED": "false",
        },
    )
    try:
        server.start()
        yield {"server": server, "settings": settings, "mail": mail, "dagster_home": dh}
    finally:
        server.stop()
        controller.stop()


def _drop(settings, name: str, data: bytes) -> None:
    tmp = settings.inbox / (name + ".part")  # written aside, then renamed: the sensor never sees half a file
    tmp.write_bytes(data)
    os.replace(tmp, settings.inbox / name)


def _inbox_runs(server, finished_only=False):
    runs = server.runs({"xiaoshuju/trigger": "inbox"})
    return [r for r in runs if not finished_only or r["status"] in ("SUCCESS", "FAILURE")]


def _publish_runs(server):
    return server.runs({"xiaoshuju/trigger": "staging"})  # launched by publish_sensor, newest first


def _next_publish_run(server, n_before: int, timeout: float = 180):
    return wait_for(
        lambda: len(_publish_runs(server)) > n_before and _publish_runs(server)[0],
        timeout,
        "the publish sensor to launch a run",
    )


def test_inbox_sensor_launches_a_refresh_and_the_marts_materialise(env):
    server, s = env["server"], env["settings"]
    _drop(s, "订单数据.csv", YOUZAN_HEADER.read_bytes())
    [ingest] = wait_for(lambda: _inbox_runs(server), 120, "the inbox sensor to launch a run")
    assert server.wait_run(ingest["runId"]) == "SUCCESS"
    assert "dagster/asset_partition_range_start" not in {t["key"] for t in ingest["tags"]}
    run = _next_publish_run(server, 0)  # the publish sensor follows the new staging materialisation
    assert server.wait_run(run["runId"]) == "SUCCESS"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["xiaoshuju/marts"] == "all"
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        START,
        CURRENT_WEEK,
    )
    weeks = {
        m["partition"] for m in server.materializations(["marts", "toy_weekly"]) if m["runId"] == run["runId"]
    }
    assert weeks == {START, _week(14), PREV, CURRENT_WEEK}
    assert [m["runId"] for m in server.materializations(["serving", "snapshot"])] == [run["runId"]]
    snap = current_snapshot(s.serving)
    assert snap.meta["run_id"] == run["runId"]
    assert snap.table("landing.manifest")["file_name"].to_list() == ["订单数据.csv"]
    assert not list(s.inbox.iterdir())  # archived
    time.sleep(8)  # a few more sensor ticks: the same inbox never launches a second run
    assert len(_inbox_runs(server)) == 1 and len(_publish_runs(server)) == 1


def test_one_weekly_partition_through_graphql(env):
    server = env["server"]
    run_id = server.launch("refresh", LOCATION, [["marts", "toy_weekly"]], tags={"dagster/partition": PREV})
    assert server.wait_run(run_id) == "SUCCESS"
    mats = [m for m in server.materializations(["marts", "toy_weekly"]) if m["runId"] == run_id]
    assert [m["partition"] for m in mats] == [PREV]
    assert not [m for m in server.materializations(["serving", "snapshot"]) if m["runId"] == run_id]


def test_sigkill_mid_marts_keeps_the_previous_snapshot_and_a_rerun_completes(env):
    server, s, mail = env["server"], env["settings"], env["mail"]
    before = current_snapshot(s.serving).version
    hook = s.home / "toy_mart_sleep"
    hook.write_text("300")
    publish = {**RANGE, "xiaoshuju/marts": "all"}  # marts + snapshot, as the publish sensor launches them
    run_id = server.launch("publish", LOCATION, tags=publish)
    instance = dg.DagsterInstance.from_config(str(env["dagster_home"]))

    def mart_started():
        logs = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        return any(e.dagster_event.step_key == "marts__toy_weekly" for e in logs)

    wait_for(mart_started, 180, "the toy mart step to start")
    time.sleep(1.0)
    pid = run_pid(instance, instance.get_run_by_id(run_id))
    assert pid and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    hook.unlink()
    assert wait_for(lambda: server.run_status(run_id) == "FAILURE", 90, "the watchdog to fail the killed run")
    assert (
        current_snapshot(s.serving).version == before
    )  # the dashboard still reads the last complete version
    rerun = server.launch("publish", LOCATION, tags=publish)
    assert server.wait_run(rerun, timeout=240) == "SUCCESS"  # the writer slot was freed
    after = current_snapshot(s.serving)
    assert after.version != before and after.meta["run_id"] == rerun
    msgs = wait_for(
        lambda: [m for m in mail.messages if run_id in m.get_payload(decode=True).decode()],
        60,
        "the run-failure email",
    )
    assert "failed run" in msgs[0]["Subject"].lower()


def test_reader_holds_the_snapshot_while_a_full_run_writes(env):
    server, s = env["server"], env["settings"]
    held = current_snapshot(s.serving)
    handles = {
        t: pq.ParquetFile(held.path / f"{t}.parquet") for t in held.tables
    }  # kept open, like a dashboard
    n_before, n_publish = len(_inbox_runs(server)), len(_publish_runs(server))
    _drop(s, "订单数据_第二周.csv", YOUZAN_HEADER.read_bytes() + b"E0000000000000000000000001\n")
    ingest = wait_for(
        lambda: len(_inbox_runs(server)) > n_before and _inbox_runs(server)[0], 120, "a second inbox run"
    )
    run = None  # the publish run that follows the ingest run (it writes the snapshot)
    worst, reads_during_run, errors = 0.0, 0, []
    deadline = time.time() + 300
    while time.time() < deadline:
        if run is None and len(_publish_runs(server)) > n_publish:
            run = _publish_runs(server)[0]
        status = server.run_status((run or ingest)["runId"])
        if status in ("FAILURE", "CANCELED") or (run is not None and status == "SUCCESS"):
            break
        t0 = time.perf_counter()
        try:
            for t in held.tables:
                held.table(t)
                handles[t].read()
            cur = current_snapshot(s.serving)
            cur.table("marts.toy_weekly")
        except Exception as exc:  # noqa: BLE001 — any failure to read is what this test looks for
            errors.append(repr(exc))
        worst = max(worst, time.perf_counter() - t0)
        reads_during_run += status == "STARTED"
        time.sleep(0.2)
    assert status == "SUCCESS"
    assert errors == []
    assert reads_during_run >= 3, "the run finished before the reader could overlap with it"
    assert worst < 2.0, f"a read waited {worst:.2f}s"
    assert current_snapshot(s.serving).version != held.version
    assert held.table("landing.manifest").height == 1  # the old version is intact


def test_broken_input_fails_a_check_and_emails_the_team(env):
    server, s, mail = env["server"], env["settings"], env["mail"]
    n_publish = len(_publish_runs(server))
    _drop(s, "broken_export.csv", b"\x00\xff\xfe garbage \x00" * 64)
    run = _next_publish_run(server, n_publish)  # ingest, then the publish run whose mart check fails
    assert server.wait_run(run["runId"]) == "SUCCESS"  # a failed (non-blocking) check does not fail the run

    def check_mail():
        return [m for m in mail.messages if "all_files_readable" in m["Subject"]]

    [msg] = wait_for(check_mail, 90, "the failed-check email")
    body = msg.get_payload(decode=True).decode()
    assert "marts/toy_weekly" in msg["Subject"]
    assert f"{server.url}/assets/marts/toy_weekly?view=checks" in body
    assert f"{server.url}/runs/{run['runId']}" in body
    logged = [json.loads(line) for line in (s.home / "alerts" / "alert_log.jsonl").read_text().splitlines()]
    assert any(
        r["check"] == "all_files_readable" and r["run_id"] == run["runId"] and r["email"] == "sent"
        for r in logged
    )
