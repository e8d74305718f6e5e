"""`xiaoshuju dashboard` (placeholder until the dashboard lands)."""


def register(sub) -> None:
    p = sub.add_parser("dashboard", help="serve the brand managers' dashboard")
    p.set_defaults(func=lambda args: print("dashboard not available yet") or 1)
