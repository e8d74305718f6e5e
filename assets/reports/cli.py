"""`xiaoshuju report` (placeholder until the weekly PDF lands)."""


def register(sub) -> None:
    p = sub.add_parser("report", help="render the weekly PDF for a week")
    p.set_defaults(func=lambda args: print("report not available yet") or 1)
