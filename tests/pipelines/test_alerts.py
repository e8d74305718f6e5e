"""Alerts: failed runs and failed asset checks are read from the event log, emailed and logged."""

import json
import subprocess
import uuid

import dagster as dg
import pytest

from pipelines.alerting import log_path
from pipelines.alerts import PID_TAG, alert_on_failures, collect_alerts, reap_dead_runs
from pipelines.resources import SettingsResource
from xiaoshuju.settings import load_settings

KEY = dg.AssetKey(["marts", "toy"])


@dg.asset(key=KEY, check_specs=[dg.AssetCheckSpec("no_negative_gmv", asset=KEY)])
def toy(context: dg.AssetExecutionContext):
    bad = context.run.tags.get("bad") == "check"
    if context.run.tags.get("bad") == "crash":
        raise ValueError("orders.csv line 7: 订单实付金额 is not a number")
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="no_negative_gmv", passed=not bad, metadata={"negative_rows": 3 if bad else 0}
            )
        ]
    )


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dh").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dh")) as inst:
        yield inst


def _run(instance, bad=""):
    return dg.materialize([toy], instance=instance, tags={"bad": bad}, raise_on_error=False)


def test_collect_alerts_sees_failed_checks_and_failed_runs(instance):
    _run(instance, bad="check")  # history before the sensor started: not alerted
    alerts, cursor = collect_alerts(instance, {}, "http://dagit:3000")
    assert alerts == []
    _run(instance)  # passes
    failed_check = _run(instance, bad="check")
    crashed = _run(instance, bad="crash")
    alerts, cursor2 = collect_alerts(instance, cursor, "http://dagit:3000/")
    by_kind = {a.kind: a for a in alerts}
    assert sorted(by_kind) == ["check_failed", "run_failure"] and len(alerts) == 2
    chk = by_kind["check_failed"]
    assert (chk.asset, chk.check, chk.run_id) == ("marts/toy", "no_negative_gmv", failed_check.run_id)
    assert chk.link == "http://dagit:3000/assets/marts/toy?view=checks" and '"negative_rows": 3' in chk.detail
    run = by_kind["run_failure"]
    assert (run.asset, run.run_id) == ("marts/toy", crashed.run_id) and "订单实付金额" in run.detail
    assert collect_alerts(instance, cursor2, "http://dagit:3000")[0] == []  # each alert once


def test_sensor_emails_and_logs(instance, xhome, smtp_server, monkeypatch):
    monkeypatch.setenv("XIAOSHUJU_DAGIT_URL", "http://127.0.0.1:3999")
    s = load_settings(xhome.home)
    resources = {"settings": SettingsResource(home=str(s.home))}
    ctx = dg.build_sensor_context(instance=instance, resources=resources)
    alert_on_failures(ctx)  # first tick sets the cursor
    result = _run(instance, bad="check")
    ctx2 = dg.build_sensor_context(instance=instance, resources=resources, cursor=ctx.cursor)
    alert_on_failures(ctx2)
    [mail] = smtp_server.wait(1)
    body = mail.get_payload(decode=True).decode()
    assert "no_negative_gmv" in mail["Subject"] and "marts/toy" in mail["Subject"]
    assert "http://127.0.0.1:3999/assets/marts/toy?view=checks" in body
    assert f"http://127.0.0.1:3999/runs/{result.run_id}" in body
    [line] = log_path(s).read_text(encoding="utf-8").splitlines()
    logged = json.loads(line)
    assert (
        logged["email"] == "sent"
        and logged["check"] == "no_negative_gmv"
        and logged["run_id"] == result.run_id
    )


def test_no_recipients_still_logs(instance, xhome):
    from pipelines.alerting import Alert, deliver

    status = deliver(
        xhome, [Alert("check_failed", "marts/toy", "c", "r1", "refresh", "ERROR", "", "http://x")]
    )
    assert status.startswith("skipped")
    assert json.loads(log_path(xhome).read_text())["email"].startswith("skipped")


def test_watchdog_fails_runs_whose_process_is_gone(instance):
    dead = subprocess.Popen(["true"])
    dead.wait()
    storage = instance.event_log_storage
    storage.set_concurrency_slots("duckdb_writer", 1)
    runs = {}
    for name, pid in (("dead", dead.pid), ("alive", subprocess.os.getpid())):
        run = instance.add_run(
            dg.DagsterRun(
                job_name="refresh",
                run_id=str(uuid.uuid4()),
                status=dg.DagsterRunStatus.STARTED,
                tags={PID_TAG: str(pid)},
            )
        )
        runs[name] = run
    storage.claim_concurrency_slot("duckdb_writer", runs["dead"].run_id, "marts__toy")
    assert storage.get_concurrency_info("duckdb_writer").claimed_slots
    assert reap_dead_runs(instance) == [runs["dead"].run_id]
    assert instance.get_run_by_id(runs["dead"].run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(runs["alive"].run_id).status == dg.DagsterRunStatus.STARTED
    assert storage.get_concurrency_info("duckdb_writer").claimed_slots == []
