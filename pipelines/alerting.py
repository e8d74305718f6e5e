"""Alert delivery, without Dagster: compose the message, email it over SMTP, append it to the alert log.

The log is JSON lines at ``$XIAOSHUJU_HOME/alerts/alert_log.jsonl`` (never the warehouse: the alert sensor must not
open the DuckDB file while a run writes it). The serving snapshot publishes it as ``ops.alert_log``.
"""

from __future__ import annotations

import json
import smtplib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from xiaoshuju.settings import Settings


@dataclass
class Alert:
    kind: str  # run_failure | check_failed
    asset: str  # "marts/member_lifetime" ("" when unknown)
    check: str  # check name ("" for run failures)
    run_id: str
    job: str
    severity: str  # ERROR | WARN
    detail: str  # words for the data engineer: what failed and why
    link: str  # Dagit page to open
    partitions: str = ""  # failing partitions of a partitioned check, comma-separated


def log_path(settings: Settings) -> Path:
    return settings.home / "alerts" / "alert_log.jsonl"


def run_link(dagit_url: str, run_id: str) -> str:
    return f"{dagit_url.rstrip('/')}/runs/{run_id}"


def asset_checks_link(dagit_url: str, asset_path: list[str]) -> str:
    return f"{dagit_url.rstrip('/')}/assets/{'/'.join(quote(p) for p in asset_path)}?view=checks"


def format_email(alerts: list[Alert], settings: Settings) -> tuple[str, str]:
    """(subject, body) naming every asset, check and Dagit link."""
    n_checks = sum(a.kind == "check_failed" for a in alerts)
    n_runs = len(alerts) - n_checks
    parts = []
    if n_checks:
        parts.append(f"{n_checks} failed check{'s' if n_checks > 1 else ''}")
    if n_runs:
        parts.append(f"{n_runs} failed run{'s' if n_runs > 1 else ''}")
    first = alerts[0]
    what = f"{first.asset} · {first.check}" if first.check else (first.asset or first.job)
    subject = f"[xiaoshuju {settings.brand}] {' + '.join(parts)}: {what}"
    lines = [f"xiaoshuju 小数据 — alerts for {settings.brand_display} ({settings.brand})", ""]
    for a in alerts:
        if a.kind == "check_failed":
            lines.append(f"FAILED CHECK [{a.severity}] asset {a.asset}, check {a.check}")
        else:
            lines.append(f"FAILED RUN of job {a.job}" + (f", asset {a.asset}" if a.asset else ""))
        if a.partitions:
            lines.append(f"  partitions: {a.partitions}")
        if a.detail:
            lines.append(f"  {a.detail}")
        lines.append(f"  open in Dagit: {a.link}")
        lines.append(f"  run: {run_link(settings.dagit_url, a.run_id)}")
        lines.append("")
    return subject, "\n".join(lines)


def send_email(settings: Settings, subject: str, body: str) -> str:
    """Send over SMTP (XIAOSHUJU_SMTP_*). Returns a status word for the log; never raises."""
    smtp = settings.smtp
    recipients = list(smtp.alert_recipients or smtp.recipients)
    if not recipients:
        return "skipped: no XIAOSHUJU_SMTP_ALERT_RECIPIENTS"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg.set_content(body)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=15) as server:
            if smtp.use_tls:
                server.starttls()
            if smtp.user:
                server.login(smtp.user, smtp.password)
            server.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "sent"


def append_log(settings: Settings, alerts: list[Alert], email_status: str) -> None:
    path = log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC).isoformat()
    with path.open("a", encoding="utf-8") as fh:
        for a in alerts:
            fh.write(json.dumps({"at": at, **asdict(a), "email": email_status}, ensure_ascii=False) + "\n")


def deliver(settings: Settings, alerts: list[Alert]) -> str:
    """Email one message for a batch of alerts and log each of them. Returns the email status."""
    if not alerts:
        return "nothing to send"
    subject, body = format_email(alerts, settings)
    status = send_email(settings, subject, body)
    append_log(settings, alerts, status)
    return status
