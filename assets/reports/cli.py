"""`xiaoshuju report --week 2026-W47 [--send] [--force] [--lang en]`: render (and email) any week's PDF."""

from __future__ import annotations

import sys


def _instance_checks(settings, week_key: str) -> list:
    """Check results recorded by the local Dagster instance, if the pipeline has run here (else none)."""
    if not (settings.dagster_home / "dagster.yaml").exists():
        return []
    try:
        import dagster as dg

        from assets.reports.checks import from_instance

        instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
        try:
            return from_instance(instance, week_key)
        finally:
            instance.dispose()
    except Exception as exc:  # noqa: BLE001  (the snapshot's own check table still applies)
        print(f"note: could not read check results from Dagster ({exc})", file=sys.stderr)
        return []


def _report(args) -> int:
    from assets.reports.delivery import DeliveryError
    from assets.reports.fonts import NoCjkFontError
    from assets.reports.weekly import produce_weekly_report
    from assets.reports.weeks import BadWeekError, last_complete_week, parse_week, week_label
    from xiaoshuju.serving import NoSnapshotError
    from xiaoshuju.settings import load_settings

    s = load_settings().ensure_dirs()
    try:
        week = parse_week(args.week) if args.week else last_complete_week(tz=s.timezone)
        outcome = produce_weekly_report(
            s,
            week,
            lang=args.lang,
            send=args.send,
            force=args.force,
            checks=_instance_checks(s, week.isoformat()),
        )
    except (BadWeekError, NoSnapshotError, NoCjkFontError, DeliveryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if outcome.status == "blocked":
        print(f"{outcome.week}: NOT rendered — {outcome.detail}", file=sys.stderr)
        if outcome.emailed_to:
            print(f"alert sent to {', '.join(outcome.emailed_to)}", file=sys.stderr)
        return 1
    print(f"{week_label(week)}: {outcome.pdf} ({outcome.pages} pages, snapshot {outcome.snapshot_version})")
    if outcome.status == "sent":
        print(f"emailed to {', '.join(outcome.emailed_to)}")
    elif outcome.detail:
        print(outcome.detail)
    for section, table in outcome.missing_sections.items():
        print(f"note: section {section} not available ({table} missing from the snapshot)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="render (and with --send, email) the weekly PDF for a week")
    p.add_argument(
        "--week", help="ISO week like 2026-W47, or a date in the week (default: last complete week)"
    )
    p.add_argument(
        "--send", action="store_true", help="email it to XIAOSHUJU_SMTP_RECIPIENTS (once per week)"
    )
    p.add_argument(
        "--force", "--resend", dest="force", action="store_true", help="email again even if already sent"
    )
    p.add_argument(
        "--lang", choices=["zh", "en"], default=None, help="language (default: settings.language, zh)"
    )
    p.set_defaults(func=_report)
