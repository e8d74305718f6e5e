"""The weekly PDF from a hand-made serving snapshot: pages, text layer, Chinese labels, privacy, missing sections,
blocked weeks, and e-mail delivery exactly once per week (local aiosmtpd server)."""

import email
import email.policy
import json
import re
import shutil
import socket
import subprocess

import polars as pl
import pytest
from pypdf import PdfReader
from report_snapshot import RAW_NAME, RAW_PHONE, W47, full_tables, write_snapshot

from assets.reports.weekly import pdf_path, produce_weekly_report
from xiaoshuju.settings import load_settings

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _text(path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def _pages_as_png(path, tmp_path) -> list:
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) not installed")
    out = tmp_path / "png"
    out.mkdir()
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(out / "page")], check=True, timeout=120)
    return sorted(out.glob("page-*.png"))


def test_render_week_from_snapshot(snapshot_home, tmp_path):
    out = produce_weekly_report(snapshot_home, W47)
    assert out.status == "rendered" and out.pdf == snapshot_home.reports / "demo-brand_2026-W47.pdf"
    assert out.missing_sections == {}
    assert 2 <= out.pages <= 4 and len(PdfReader(str(out.pdf)).pages) == out.pages
    assert len(_pages_as_png(out.pdf, tmp_path)) == out.pages
    text = _text(out.pdf)
    # headline KPIs with week-over-week (buyers 777 vs 660 the week before → +17.7%)
    for expected in ("¥123,457", "777", "+17.7%", "¥2,345,678", "2026-W47"):
        assert expected in text, expected
    # Chinese labels, from the metric registry and the report's own words
    for label in (
        "核心指标",
        "成交额 GMV",
        "购买人数",
        "僵尸群",
        "新晋大C",
        "成交额归因",
        "社群归因",
        "本周贡献最高的大C",
        "需要关注的社群",
        "流失风险会员",
        "数据质量",
        "指标口径",
    ):
        assert label in text, label
    # attribution: ¥80,000 of ¥123,457 credited to 大C by group = 64.8%
    assert "¥80,000" in text and "64.8%" in text
    # top 大C ranked by attributed GMV, movers by change vs last week
    assert text.index("王*") < text.index("李**")
    assert "+2,500" in text and "-3,000" in text
    # groups: this week's alerts only, zombie first, with the reason
    assert "新僵尸群" in text and "已沉寂 27 天" in text and "上周的告警" not in text
    # members at risk: 3 high-risk buyers with ¥900 historic value
    assert "¥900" in text
    # data-quality line
    assert "隔离 10" in text and "对账 2/2" in text
    # privacy: no raw phone, no raw name; the unmasked name was masked on the way
    assert not PHONE.search(text), PHONE.search(text)
    assert RAW_NAME not in text and RAW_NAME[:2] not in text and "张**" in text
    assert RAW_PHONE not in out.pdf.read_bytes().decode("latin-1")


def test_english_option(snapshot_home):
    out = produce_weekly_report(snapshot_home, W47, lang="en")
    text = _text(out.pdf)
    for expected in (
        "Headline KPIs",
        "GMV by attribution method",
        "Top 大C this week",
        "Data quality",
        "¥123,457",
        "Zombie groups",
        "No member speech",
    ):
        assert expected in text, expected
    assert "核心指标" not in text


def test_missing_tables_say_not_available(xhome):
    write_snapshot(xhome.serving, {"marts.weekly_kpis": full_tables()["marts.weekly_kpis"]})
    out = produce_weekly_report(xhome, W47)
    assert out.status == "rendered" and 2 <= out.pages <= 4
    assert set(out.missing_sections) == {"dacs", "groups", "members", "quality"}
    text = _text(out.pdf)
    assert "¥123,457" in text
    assert (
        text.count("暂无数据") == 4
        and "marts.group_alerts" in text
        and "marts.dac_contribution_weekly" in text
    )


def test_week_without_kpi_row_still_renders(snapshot_home):
    import datetime as dt

    out = produce_weekly_report(snapshot_home, dt.date(2026, 12, 7))
    assert out.status == "rendered" and "该周尚无汇总数据" in _text(out.pdf)


def _failed_check_snapshot(settings, severity="ERROR", partition=None):
    tables = full_tables()
    tables["ops.check_status"] = pl.DataFrame(
        {
            "asset": ["marts/order_attribution", "marts/weekly_kpis"],
            "check_name": ["order_attribution_reconciles", "kpis_consistent"],
            "passed": [False, True],
            "severity": [severity, "WARN"],
            "partition": [partition, None],
        }
    )
    write_snapshot(settings.serving, tables)


def test_failed_blocking_check_gives_no_pdf(xhome):
    _failed_check_snapshot(xhome)
    out = produce_weekly_report(xhome, W47, send=True)
    assert out.status == "blocked" and out.pdf is None
    assert out.failed_checks == ["marts/order_attribution · order_attribution_reconciles (ERROR)"]
    assert not pdf_path(xhome, W47).exists()
    log = [json.loads(x) for x in (xhome.reports / "delivery_log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in log] == ["blocked"]  # no recipients configured: logged, nobody mailed


def test_warn_check_or_other_week_does_not_block(xhome):
    _failed_check_snapshot(xhome, severity="WARN")
    assert produce_weekly_report(xhome, W47).status == "rendered"
    _failed_check_snapshot(xhome, partition="2026-11-09")  # failed for another week only
    assert produce_weekly_report(xhome, W47).status == "rendered"


# ---- e-mail ----------------------------------------------------------------------------------------------------
class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _mail_settings(home, port, monkeypatch):
    monkeypatch.setenv("XIAOSHUJU_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("XIAOSHUJU_SMTP_PORT", str(port))
    monkeypatch.setenv("XIAOSHUJU_SMTP_RECIPIENTS", "ceo@example.com,coo@example.com")
    monkeypatch.setenv("XIAOSHUJU_SMTP_ALERT_RECIPIENTS", "data@example.com")
    return load_settings(home.home)


def _pdf_attachments(msg):
    return [p for p in msg.walk() if p.get_content_type() == "application/pdf"]


def test_email_once_per_week(snapshot_home, smtp_server, monkeypatch):
    inbox, port = smtp_server
    s = _mail_settings(snapshot_home, port, monkeypatch)
    first = produce_weekly_report(s, W47, send=True)
    assert first.status == "sent" and first.emailed_to == ["ceo@example.com", "coo@example.com"]
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert "2026-W47" in msg["Subject"] and "ceo@example.com" in msg["To"]
    (att,) = _pdf_attachments(msg)
    assert att.get_filename() == "demo-brand_2026-W47.pdf" and att.get_payload(decode=True)[:5] == b"%PDF-"
    archived = list((s.reports / "archive").glob("demo-brand_2026-W47_*.pdf"))
    assert len(archived) == 1

    again = produce_weekly_report(s, W47, send=True)  # re-run: re-rendered, not re-sent
    assert again.status == "already_sent" and again.pdf.exists()
    assert len(inbox.messages) == 1
    forced = produce_weekly_report(s, W47, send=True, force=True)
    assert forced.status == "sent" and len(inbox.messages) == 2
    events = [json.loads(x)["event"] for x in (s.reports / "delivery_log.jsonl").read_text().splitlines()]
    assert events == ["rendered", "sent", "rendered", "rendered", "sent"]


def test_failed_week_sends_no_report_but_one_alert(xhome, smtp_server, monkeypatch):
    inbox, port = smtp_server
    s = _mail_settings(xhome, port, monkeypatch)
    _failed_check_snapshot(s)
    assert produce_weekly_report(s, W47, send=True).status == "blocked"
    assert produce_weekly_report(s, W47, send=True).status == "blocked"  # the same failure alerts once
    assert len(inbox.messages) == 1
    alert = inbox.messages[0]
    assert alert["To"] == "data@example.com" and not _pdf_attachments(alert)
    assert "order_attribution_reconciles" in alert.get_content()
    assert not list(s.reports.glob("*.pdf"))


def test_cli_renders_a_past_week(snapshot_home, capsys):
    from xiaoshuju.cli import main

    assert main(["report", "--week", "2026-W47", "--lang", "en"]) == 0
    assert (snapshot_home.reports / "demo-brand_2026-W47.pdf").exists()
    assert "3 pages" in capsys.readouterr().out
    assert main(["report", "--week", "not-a-week"]) == 2
