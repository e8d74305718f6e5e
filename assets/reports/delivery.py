"""Email delivery of the weekly PDF and the delivery log that makes it idempotent per week.

SMTP settings come from ``XIAOSHUJU_SMTP_*`` (host, port, user, password, use_tls, sender, recipients,
alert_recipients) — never from the repo. Every render, send and blocked-week alert is appended to
``$XIAOSHUJU_HOME/reports/delivery_log.jsonl`` (one JSON object per line); a week that has a ``sent`` entry is not
emailed again unless forced, and a blocked week alerts once.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from xiaoshuju.settings import Settings

LOG_NAME = "delivery_log.jsonl"


class DeliveryError(RuntimeError):
    """The mail server refused or could not be reached; the PDF is rendered, nothing was marked as sent."""


def log_path(settings: Settings) -> Path:
    return settings.reports / LOG_NAME


def read_log(settings: Settings) -> list[dict]:
    p = log_path(settings)
    if not p.exists():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash
    return out


def append_log(settings: Settings, entry: dict) -> dict:
    entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "brand": settings.brand, **entry}
    p = log_path(settings)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        fh.flush()
    return entry


def last_event(settings: Settings, week: str, event: str) -> dict | None:
    hits = [
        e
        for e in read_log(settings)
        if e.get("week") == week and e.get("event") == event and e.get("brand") == settings.brand
    ]
    return hits[-1] if hits else None


def send_mail(
    settings: Settings, to: list[str], subject: str, body: str, attachment: Path | None = None
) -> None:
    """One message over SMTP; STARTTLS when use_tls (implicit TLS on port 465); login when a user is set."""
    smtp = settings.smtp
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(to)
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(
            attachment.read_bytes(), maintype="application", subtype="pdf", filename=attachment.name
        )
    try:
        if smtp.use_tls and smtp.port == 465:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=30, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=30)
        with client:
            if smtp.use_tls and smtp.port != 465:
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            f"could not send the weekly report via {smtp.host}:{smtp.port} ({exc}); "
            "check XIAOSHUJU_SMTP_HOST/PORT/USER/PASSWORD/USE_TLS"
        ) from exc
