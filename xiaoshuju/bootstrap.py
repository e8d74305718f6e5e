"""Set everything up on a fresh machine and run the demo — the README's first command.

    python3 -m xiaoshuju.bootstrap            # system packages (as root), .venv, pinned deps, demo brand, full pipeline
    python3 -m xiaoshuju.bootstrap --no-demo  # everything but the demo run (what CI uses before the tests)

Standard library only: it runs before anything is installed. Idempotent: re-running reuses the virtualenv, and the
pipeline treats the re-generated demo files (same seed, same bytes) as already seen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
SYSTEM_PACKAGES = ["fonts-noto-cjk", "fonts-noto-color-emoji", "chromium", "chromium-driver", "poppler-utils"]


def _say(msg: str) -> None:
    print(f"[xiaoshuju setup] {msg}", flush=True)


def _run(cmd: list[str], **kw) -> None:
    _say("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def install_system_packages() -> None:
    missing = [p for p in SYSTEM_PACKAGES if not _dpkg_installed(p)]
    if not missing:
        _say("system packages present: " + ", ".join(SYSTEM_PACKAGES))
        return
    if shutil.which("apt-get") is None:
        _say(f"apt-get not found: install {', '.join(missing)} yourself (fonts, browser for tests, pdftoppm)")
        return
    if os.geteuid() != 0:
        _say(
            f"not root: skipping system packages {', '.join(missing)}. Install them with "
            f"`sudo apt-get install -y {' '.join(missing)}` for CJK fonts, the browser tests and pdftoppm."
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-q"], env=env)
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)


def _dpkg_installed(pkg: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return out.returncode == 0 and "install ok installed" in out.stdout


def create_venv() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        _run([sys.executable, "-m", "venv", str(VENV)])
    _run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REPO / "requirements.lock")])
    _run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "-e", str(REPO)])
    return py


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-demo", action="store_true", help="set up only; do not generate and run the demo brand")
    ap.add_argument("--no-system", action="store_true", help="skip apt-get system packages")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if sys.version_info[:2] != (3, 11):
        _say(f"warning: Python 3.11 expected, this is {sys.version.split()[0]}")
    if not args.no_system:
        install_system_packages()
    create_venv()
    _say(f"environment ready in {time.perf_counter() - t0:.0f}s: {VENV}")
    if args.no_demo:
        return 0
    env = {**os.environ, "XIAOSHUJU_HOME": os.environ.get("XIAOSHUJU_HOME", str(REPO / "data"))}
    rc = subprocess.call([str(VENV / "bin" / "xiaoshuju"), "demo"], env=env, cwd=REPO)
    _say(f"done in {time.perf_counter() - t0:.0f}s (exit {rc})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
