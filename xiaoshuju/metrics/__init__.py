"""The metric registry: one definition per metric.

Every mart registers its metrics here (one module per mart, imported below); mart column comments, dashboard
labels/tooltips and PDF footnotes all read from this registry, so a metric's name, zh/en label, formula and unit
exist exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str  # snake_case; equals the mart column name where the metric is a column
    zh: str  # Chinese label (default UI language)
    en: str  # English label
    formula_zh: str  # definition in words, Chinese
    formula_en: str  # definition in words, English
    unit: str  # "yuan", "count", "ratio", "days", "minutes", "score", "probability", "weeks", ...
    fmt: str = "{:,.0f}"  # display format for one value
    mart: str = ""  # which mart/table owns it

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def help(self, lang: str = "zh") -> str:
        return self.formula_zh if lang == "zh" else self.formula_en

    def format(self, value: float | int | None) -> str:
        if value is None:
            return "—"
        try:
            if value != value:  # NaN
                return "—"
        except TypeError:
            pass
        return self.fmt.format(value)


_REGISTRY: dict[str, Metric] = {}


def register(*metrics: Metric) -> None:
    for m in metrics:
        if m.key in _REGISTRY and _REGISTRY[m.key] != m:
            raise ValueError(f"metric {m.key!r} is defined twice with different definitions")
        _REGISTRY[m.key] = m


def get(key: str) -> Metric:
    _load_all()
    try:
        return _REGISTRY[key]
    except KeyError as exc:
        raise KeyError(f"metric {key!r} is not in the registry (xiaoshuju/metrics/)") from exc


def all_metrics(mart: str | None = None) -> list[Metric]:
    _load_all()
    return [m for m in _REGISTRY.values() if mart is None or m.mart == mart]


def column_comment(key: str) -> str:
    """Text for ``COMMENT ON COLUMN``: zh label / en label — formula (unit)."""
    m = get(key)
    return f"{m.zh} / {m.en} — {m.formula_en} ({m.unit})"


_LOADED = False


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from xiaoshuju.metrics import (  # noqa: F401  (import registers)
        dac_contribution,
        group_vitality,
        ingestion,
        member_lifetime,
        overview,
    )
