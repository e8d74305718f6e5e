"""Run the dashboard in streamlit.testing.v1.AppTest, optionally on one page and with URL query parameters."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PAGES = ["overview", "members", "groups", "dac", "fission", "data_quality"]
PAGE_IDS = {
    "overview": "overview",
    "members": "members",
    "groups": "groups",
    "dac": "dac",
    "fission": "fission",
    "data_quality": "quality",
}


def make_app(page: str | None = None, timeout: float = 60, **query) -> AppTest:
    """An AppTest on the dashboard; ``page`` is a module name under dashboards/pages."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if page and page != "overview":
        query["page"] = PAGE_IDS[page]
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()
