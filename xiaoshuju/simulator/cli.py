"""`xiaoshuju simulate` (placeholder until the simulator lands)."""


def register(sub) -> None:
    p = sub.add_parser("simulate", help="write a simulated brand's exports into the inbox")
    p.set_defaults(func=lambda args: print("simulator not available yet") or 1)
