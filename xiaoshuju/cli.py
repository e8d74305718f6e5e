"""The `xiaoshuju` command.

    xiaoshuju demo                     generate the demo brand (simulator, scale S) and run the whole pipeline
    xiaoshuju simulate ...             write a simulated brand's exports into the inbox (see --help)
    xiaoshuju run                      materialise every asset on what is in the inbox
    xiaoshuju dagit                    serve Dagit (Dagster's web UI) on 127.0.0.1:3000
    xiaoshuju dashboard                serve the brand managers' dashboard (Streamlit) on 127.0.0.1:8501
    xiaoshuju report --week 2026-W47   render (and with --send, email) the weekly PDF for a past week
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xiaoshuju", description="小数据 xiaoshuju — community-retail insight")
    sub = parser.add_subparsers(dest="command", required=True)
    from xiaoshuju import commands

    commands.register_all(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
