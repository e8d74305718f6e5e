"""`xiaoshuju dashboard`: serve the brand managers' dashboard (Streamlit) on 127.0.0.1:8501, headless."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        # app.py dispatches dashboards/pages/* itself (page id in the URL query); hide Streamlit's own page list
        "--client.showSidebarNavigation",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def _serve(args) -> int:
    from xiaoshuju.settings import load_settings

    s = load_settings()
    env = {**os.environ, "XIAOSHUJU_HOME": str(s.home)}
    print(f"dashboard on http://{args.host}:{args.port}  (serving snapshot: {s.serving})", flush=True)
    try:
        return subprocess.call(streamlit_command(args.host, args.port), env=env)
    except KeyboardInterrupt:
        return 0


def register(sub) -> None:
    p = sub.add_parser("dashboard", help="serve the brand managers' dashboard (Streamlit) on 127.0.0.1:8501")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=_serve)
