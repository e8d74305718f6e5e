"""Sub-commands of `xiaoshuju`; each area registers its own (simulator, pipelines, dashboard, report)."""

from __future__ import annotations


def register_all(sub) -> None:
    from assets.reports.cli import register as register_report
    from dashboards.cli import register as register_dashboard
    from pipelines.cli import register as register_pipelines
    from xiaoshuju.simulator.cli import register as register_simulator

    register_simulator(sub)
    register_pipelines(sub)
    register_dashboard(sub)
    register_report(sub)
