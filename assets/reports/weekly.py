"""Produce one week's report: check → render → (email once) → log. Used by the Dagster asset and the CLI.

Reads only the serving snapshot. A week whose blocking (ERROR) checks failed gets no PDF: the data team is
alerted instead (once per week), because a wrong executive report is worse than a late one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from assets.reports import checks as check_status
from assets.reports.data import load_report_data
from assets.reports.delivery import append_log, last_event, send_mail
from assets.reports.i18n import t
from assets.reports.render import fmt_value, fmt_wow, render_pdf
from assets.reports.weeks import week_end, week_label
from xiaoshuju.serving import Snapshot, current_snapshot
from xiaoshuju.settings import Settings


@dataclass
class Outcome:
    status: str  # rendered | sent | already_sent | blocked
    week: str
    pdf: Path | None = None
    pages: int = 0
    emailed_to: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    snapshot_version: str = ""
    detail: str = ""
    missing_sections: dict[str, str] = field(default_factory=dict)


def pdf_path(settings: Settings, week_start: dt.date) -> Path:
    return settings.reports / f"{settings.brand}_{week_label(week_start)}.pdf"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def produce_weekly_report(
    settings: Settings,
    week_start: dt.date,
    *,
    lang: str | None = None,
    send: bool = False,
    force: bool = False,
    checks: list[check_status.CheckStatus] | None = None,
    snapshot: Snapshot | None = None,
) -> Outcome:
    """Render ``reports/<brand>_<ISO week>.pdf`` and, with ``send``, email it once per week (``force`` resends)."""
    lang = lang or settings.language
    label = week_label(week_start)
    snap = snapshot or current_snapshot(settings.serving)
    statuses = check_status.merge(check_status.from_snapshot(snap, week_start.isoformat()), checks or [])
    failed = [c for c in statuses if c.blocking_failure]
    if failed:
        return _blocked(settings, week_start, lang, snap, failed, force)

    data = load_report_data(
        snap, week_start, settings.brand, settings.brand_display, statuses, timezone=settings.timezone
    )
    out = pdf_path(settings, week_start)
    result = render_pdf(data, out, lang)
    outcome = Outcome(
        "rendered",
        label,
        out,
        result.pages,
        snapshot_version=snap.version,
        missing_sections=dict(data.missing),
    )
    append_log(
        settings,
        {
            "event": "rendered",
            "week": label,
            "lang": lang,
            "pdf": str(out),
            "pages": result.pages,
            "sha256": _sha256(out),
            "snapshot": snap.version,
        },
    )
    if not send:
        return outcome
    prior = last_event(settings, label, "sent")
    if prior and not force:
        outcome.status = "already_sent"
        outcome.detail = (
            f"already emailed at {prior['at']} to {', '.join(prior.get('to', []))}; use --force to resend"
        )
        return outcome
    to = list(settings.smtp.recipients)
    if not to:
        outcome.detail = "not emailed: no recipients (set XIAOSHUJU_SMTP_RECIPIENTS)"
        return outcome
    archived = settings.reports / "archive" / f"{out.stem}_{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.pdf"
    archived.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, archived)
    row = data.kpi_row or {}
    kw = {"brand": settings.brand_display, "week": label, "start": week_start, "end": week_end(week_start)}
    send_mail(
        settings,
        to,
        t("mail_subject", lang, **kw),
        t(
            "mail_body",
            lang,
            **kw,
            gmv=fmt_value("gmv", row.get("gmv")),
            gmv_wow=fmt_wow(row.get("gmv_wow")),
            buyers=fmt_value("buyers", row.get("buyers")),
        ),
        attachment=out,
    )
    append_log(
        settings,
        {
            "event": "sent",
            "week": label,
            "lang": lang,
            "to": to,
            "pdf": str(out),
            "archive": str(archived),
            "sha256": _sha256(out),
            "snapshot": snap.version,
            "forced": bool(prior),
        },
    )
    outcome.status, outcome.emailed_to = "sent", to
    return outcome


def _blocked(
    settings: Settings, week_start: dt.date, lang: str, snap: Snapshot, failed, force: bool
) -> Outcome:
    label = week_label(week_start)
    names = [c.describe() for c in failed]
    outcome = Outcome(
        "blocked",
        label,
        failed_checks=names,
        snapshot_version=snap.version,
        detail="blocking checks failed: " + "; ".join(names),
    )
    to = list(settings.smtp.alert_recipients or settings.smtp.recipients)
    prior = last_event(settings, label, "blocked_alert")
    entry = {"event": "blocked", "week": label, "failed_checks": names, "snapshot": snap.version}
    if to and (force or not prior or set(prior.get("failed_checks", [])) != set(names)):
        kw = {
            "brand": settings.brand_display,
            "week": label,
            "start": week_start,
            "end": week_end(week_start),
        }
        send_mail(
            settings,
            to,
            t("blocked_subject", lang, **kw),
            t(
                "blocked_body",
                lang,
                **kw,
                checks="\n".join(f"- {n}" for n in names),
                link=settings.dagit_url.rstrip("/") + "/asset-groups",
            ),
        )
        entry = {**entry, "event": "blocked_alert", "to": to}
        outcome.emailed_to = to
    append_log(settings, entry)
    return outcome
