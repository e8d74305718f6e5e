"""matplotlib charts for the weekly PDF, rendered to PNG bytes with the embedded CJK font."""

from __future__ import annotations

import io
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from assets.reports.fonts import find_cjk_font  # noqa: E402

BLUE, ORANGE, GREY, RED = "#2563eb", "#f59e0b", "#9ca3af", "#dc2626"
DPI = 160


@lru_cache(maxsize=1)
def _font_family() -> str:
    font = find_cjk_font()
    font_manager.fontManager.addfont(str(font.regular))
    name = font_manager.FontProperties(fname=str(font.regular)).get_name()
    plt.rcParams["font.family"] = [name, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return name


def _png(fig) -> io.BytesIO:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return buf


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)


def gmv_trend(
    labels: list[str], gmv: list[float | None], buyers: list[float | None], gmv_label: str, buyers_label: str
) -> io.BytesIO:
    """Bars: GMV per week (the report week highlighted); line: buyers on a second axis."""
    _font_family()
    fig, ax = plt.subplots(figsize=(7.2, 2.5))
    xs = list(range(len(labels)))
    colors = [GREY] * (len(xs) - 1) + [BLUE]
    ax.bar(xs, [g or 0 for g in gmv], color=colors, width=0.6, label=gmv_label)
    ax.set_xticks(xs, [lab.split("-")[-1] for lab in labels])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"¥{v:,.0f}"))
    ax.set_ylabel(gmv_label, fontsize=8)
    _style(ax)
    ax2 = ax.twinx()
    ax2.plot(
        xs,
        [b if b is not None else float("nan") for b in buyers],
        color=ORANGE,
        marker="o",
        markersize=3,
        linewidth=1.5,
        label=buyers_label,
    )
    ax2.set_ylabel(buyers_label, fontsize=8)
    ax2.tick_params(labelsize=8)
    ax2.spines["top"].set_visible(False)
    ax2.set_ylim(bottom=0)
    handles = [ax.containers[0], ax2.lines[0]]
    ax.legend(handles, [gmv_label, buyers_label], fontsize=7, loc="upper left", frameon=False)
    return _png(fig)


def attribution_bars(
    methods: list[str], to_dac: list[float], direct: list[float], dac_label: str, direct_label: str
) -> io.BytesIO:
    """One stacked horizontal bar per attribution method: GMV credited to 大C vs brand direct."""
    _font_family()
    fig, ax = plt.subplots(figsize=(7.2, 1.7))
    ys = list(range(len(methods)))[::-1]
    ax.barh(ys, to_dac, color=BLUE, height=0.55, label=dac_label)
    ax.barh(ys, direct, left=to_dac, color=GREY, height=0.55, label=direct_label)
    total = max((a + b for a, b in zip(to_dac, direct, strict=True)), default=0) or 1
    for y, a, b in zip(ys, to_dac, direct, strict=True):
        if a + b > 0:
            ax.text(a / 2, y, f"{a / (a + b):.0%}", ha="center", va="center", color="white", fontsize=8)
    ax.set_yticks(ys, methods, fontsize=8)
    ax.set_xlim(0, total * 1.02)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"¥{v:,.0f}"))
    _style(ax)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.6)
    ax.grid(axis="y", visible=False)
    ax.legend(fontsize=7, loc="lower right", frameon=False, ncols=2, bbox_to_anchor=(1, 1))
    return _png(fig)
