"""Lay out the weekly PDF (A4, 3 pages, Chinese by default) with fpdf2 and an embedded CJK font.

Page 1: headline KPIs (value, week-over-week, 4-week sparkline and average) and the 8-week GMV chart.
Page 2: GMV by attribution method, top 大C and the biggest movers.
Page 3: groups newly zombie or declining, members at risk, data quality, metric footnotes (from the registry).
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableCellFillMode
from fpdf.fonts import FontFace

from assets.reports import charts
from assets.reports.data import KPI_KEYS, METHODS, ReportData, scrub
from assets.reports.fonts import CjkFont, find_cjk_font, is_cff, truetype_subset
from assets.reports.i18n import t
from assets.reports.weeks import week_end, week_label
from xiaoshuju import metrics

FONT = "cjk"
INK = (31, 41, 55)
MUTED = (107, 114, 128)
ACCENT = (37, 99, 235)
GOOD = (21, 128, 61)
BAD = (185, 28, 28)
HEAD_FILL = (239, 246, 255)
# A rise of these KPIs is bad news.
LOWER_IS_BETTER = {"zombie_groups"}


@dataclass
class RenderResult:
    path: Path
    pages: int


def fmt_value(key: str, value) -> str:
    return metrics.get(key).format(None if value is None else float(value))


def fmt_wow(value) -> str:
    if value is None or value != value:
        return "—"
    arrow = "▲" if value > 0 else "▼" if value < 0 else "■"
    return f"{arrow} {value:+.1%}"


def fmt_money(value) -> str:
    return "—" if value is None else f"¥{float(value):,.0f}"


class _Pdf(FPDF):
    def __init__(self, data: ReportData, lang: str, font: CjkFont, chart_cache: dict) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.data, self.lang = data, lang
        self.used_chars: set[int] = set()
        self.chart_cache = chart_cache
        self.add_font(FONT, "", str(font.regular), collection_font_number=font.regular_index)
        self.add_font(FONT, "B", str(font.bold), collection_font_number=font.bold_index)
        self.set_margins(15, 14, 15)
        self.set_auto_page_break(True, margin=16)
        self.set_title(f"{data.brand_display} {t('title', lang)} {week_label(data.week_start)}")
        self.set_author("xiaoshuju 小数据")
        self.set_creator("xiaoshuju")

    def normalize_text(self, text):
        self.used_chars.update(map(ord, text))
        return super().normalize_text(text)

    def chart(self, name: str, fn, *args):
        """A chart PNG, drawn once per report even though the document is laid out twice."""
        if name not in self.chart_cache:
            self.chart_cache[name] = fn(*args).getvalue()
        return io.BytesIO(self.chart_cache[name])

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT, "", 7)
        self.set_text_color(*MUTED)
        left = (
            f"{self.data.brand_display} · {week_label(self.data.week_start)} · {t('snapshot', self.lang)} "
            f"{self.data.snapshot_version}"
        )
        self.cell(self.epw * 0.8, 4, left)
        self.cell(self.epw * 0.2, 4, t("page", self.lang, n=self.page_no()), align="R")

    # ---- building blocks --------------------------------------------------------------------------------------
    def h1(self, text: str) -> None:
        self.set_font(FONT, "B", 18)
        self.set_text_color(*INK)
        self.cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")

    def h2(self, text: str) -> None:
        if self.get_y() > self.h - 45:
            self.add_page()
        self.ln(2)
        y = self.get_y()
        self.set_fill_color(*ACCENT)
        self.rect(self.l_margin, y + 1.2, 1.2, 5, style="F")
        self.set_x(self.l_margin + 3)
        self.set_font(FONT, "B", 12)
        self.set_text_color(*INK)
        self.cell(0, 7.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(0.5)

    def note(self, text: str, size: float = 8, color=MUTED) -> None:
        self.set_font(FONT, "", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, scrub(text), new_x="LMARGIN", new_y="NEXT", align="L")

    def not_available(self, section: str) -> None:
        self.note(t("not_available", self.lang, what=self.data.missing.get(section, section)), 9)

    def table(
        self, headings: list[str], rows: list[list[str]], widths: tuple, align: tuple, size: float = 8.5
    ):
        self.set_font(FONT, "", size)
        self.set_text_color(*INK)
        self.set_draw_color(229, 231, 235)
        self.set_fill_color(255, 255, 255)  # fpdf2 paints the non-striped rows with the current fill colour
        with super().table(
            col_widths=widths,
            text_align=align,
            line_height=size * 0.55,
            headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=INK),
            borders_layout="HORIZONTAL_LINES",
            cell_fill_color=(249, 250, 251),
            cell_fill_mode=TableCellFillMode.EVEN_ROWS,
            padding=1.2,
        ) as tbl:
            row = tbl.row()
            for h in headings:
                row.cell(h)
            for r in rows:
                row = tbl.row()
                for v in r:
                    row.cell(scrub(v))
        self.ln(1)

    def sparkline(self, x: float, y: float, w: float, h: float, values: list[float | None]) -> None:
        pts = [(i, v) for i, v in enumerate(values) if v is not None]
        if len(pts) < 2:
            return
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        span = (hi - lo) or 1.0
        n = max(len(values) - 1, 1)
        coords = [(x + w * i / n, y + h - h * ((v - lo) / span if hi != lo else 0.5)) for i, v in pts]
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.35)
        self.polyline(coords)
        self.set_fill_color(*ACCENT)
        cx, cy = coords[-1]
        self.circle(x=cx, y=cy, radius=0.7, style="F")
        self.set_line_width(0.2)


# ---- sections ---------------------------------------------------------------------------------------------------
def _header(pdf: _Pdf) -> None:
    d, lang = pdf.data, pdf.lang
    start, end = d.week_start, week_end(d.week_start)
    pdf.h1(f"{d.brand_display} · {t('title', lang)} {week_label(start)}")
    as_of = (d.data_as_of or "—")[:16].replace("T", " ")
    if d.timezone == "Asia/Shanghai":
        tz = "（北京时间）" if lang == "zh" else " (Beijing time)"
    else:
        tz = f"（{d.timezone}）" if lang == "zh" else f" ({d.timezone})"
    pdf.note(
        f"{t('period', lang)} {start:%Y-%m-%d} – {end:%Y-%m-%d}{tz}   {t('data_as_of', lang)} {as_of} UTC   "
        f"{t('generated', lang)} {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        8,
    )
    pdf.ln(1)


def _headline(pdf: _Pdf) -> None:
    d, lang = pdf.data, pdf.lang
    pdf.h2(t("headline", lang))
    if d.kpis is None:
        pdf.not_available("kpis")
        return
    if d.kpi_row is None:
        pdf.note(t("no_week_row", lang), 9)
        return
    last4 = d.kpis.filter(d.kpis["week_start"] > d.week_start - dt.timedelta(weeks=4))
    widths = (58, 34, 28, 32, 28)
    heads = [t("metric", lang), t("this_week", lang), t("wow", lang), t("trend_4w", lang), t("avg_4w", lang)]
    x0, rh = pdf.l_margin, 7.2
    pdf.set_fill_color(*HEAD_FILL)
    pdf.set_font(FONT, "B", 9)
    pdf.set_text_color(*INK)
    for i, (w, h) in enumerate(zip(widths, heads, strict=True)):
        pdf.cell(w, rh, h, fill=True, align="L" if i == 0 else "R" if i != 3 else "C")
    pdf.ln(rh)
    for key in KPI_KEYS:
        m = metrics.get(key)
        value = d.kpi_row.get(key)
        wow = d.kpi_row.get(f"{key}_wow")
        series = (
            [None if v is None else float(v) for v in last4[key].to_list()] if key in last4.columns else []
        )
        avail = [v for v in series if v is not None]
        y = pdf.get_y()
        pdf.set_font(FONT, "", 9.5)
        pdf.set_text_color(*INK)
        pdf.cell(widths[0], rh, m.label(lang))
        pdf.set_font(FONT, "B", 10)
        pdf.cell(widths[1], rh, fmt_value(key, value), align="R")
        pdf.set_font(FONT, "", 9)
        good = None if wow is None else (wow > 0) != (key in LOWER_IS_BETTER)
        pdf.set_text_color(*(MUTED if wow is None or wow == 0 else GOOD if good else BAD))
        pdf.cell(widths[2], rh, fmt_wow(wow), align="R")
        pdf.sparkline(x0 + sum(widths[:3]) + 5, y + 1.5, widths[3] - 10, rh - 3, series)
        pdf.set_x(x0 + sum(widths[:4]))
        pdf.set_text_color(*INK)
        pdf.cell(widths[4], rh, fmt_value(key, sum(avail) / len(avail)) if avail else "—", align="R")
        pdf.ln(rh)
        pdf.set_draw_color(229, 231, 235)
        pdf.line(x0, pdf.get_y(), x0 + sum(widths), pdf.get_y())
    pdf.note(t("wow_note", lang), 7)
    pdf.ln(2)
    pdf.h2(t("gmv_trend", lang))
    png = pdf.chart(
        "gmv_trend",
        charts.gmv_trend,
        [week_label(w) for w in d.kpis["week_start"].to_list()],
        [None if v is None else float(v) for v in d.kpis["gmv"].to_list()],
        [None if v is None else float(v) for v in d.kpis["buyers"].to_list()],
        metrics.get("gmv").label(lang),
        metrics.get("buyers").label(lang),
    )
    pdf.image(png, w=pdf.epw)


def _attribution(pdf: _Pdf) -> None:
    d, lang = pdf.data, pdf.lang
    pdf.h2(t("attribution", lang))
    if d.attribution is None:
        pdf.not_available("kpis" if d.kpis is None else "attribution")
        if "attribution" not in d.missing:
            d.missing["attribution"] = "marts.order_attribution"
        return
    total = d.attribution["total"]
    names = [t(f"method_{m}", lang) for m in METHODS]
    to_dac = [d.attribution[m] for m in METHODS]
    direct = [max(total - v, 0.0) for v in to_dac]
    png = pdf.chart(
        "attribution",
        charts.attribution_bars,
        names,
        to_dac,
        direct,
        t("to_dac", lang),
        t("brand_direct", lang),
    )
    pdf.image(png, w=pdf.epw)
    rows = [
        [n, fmt_money(a), fmt_money(b), f"{a / total:.1%}" if total else "—"]
        for n, a, b in zip(names, to_dac, direct, strict=True)
    ]
    pdf.table(
        [t("method", lang), t("to_dac", lang), t("brand_direct", lang), t("share", lang)],
        rows,
        (80, 36, 36, 28),
        ("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )


def _dacs(pdf: _Pdf) -> None:
    d, lang = pdf.data, pdf.lang
    pdf.h2(t("top_dacs", lang))
    if d.top_dacs is None:
        pdf.not_available("dacs")
        return
    rows = []
    for r in d.top_dacs.to_dicts():
        rows.append(
            [
                str(r["pos"]),
                r["name"],
                fmt_money(r["value"]),
                fmt_money(r.get("own_gmv")),
                "—" if r.get("members_served") is None else f"{int(r['members_served']):,}",
                f"{r['change']:+,.0f}",
            ]
        )
    if not rows:
        pdf.note("—", 9)
    else:
        pdf.table(
            [
                t("rank", lang),
                t("dac", lang),
                t("attributed_avg", lang),
                t("own_gmv", lang),
                t("members_served", lang),
                t("change", lang),
            ],
            rows,
            (14, 40, 42, 28, 28, 28),
            ("CENTER", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        )
    pdf.h2(t("movers", lang))
    up = [
        [t("up", lang), r["name"], f"{r['change']:+,.0f}", fmt_money(r["value"])]
        for r in d.movers_up.to_dicts()
    ]
    down = [
        [t("down", lang), r["name"], f"{r['change']:+,.0f}", fmt_money(r["value"])]
        for r in d.movers_down.to_dicts()
    ]
    if up or down:
        pdf.table(
            ["", t("dac", lang), t("change", lang), t("this_week", lang)],
            up + down,
            (24, 60, 48, 48),
            ("LEFT", "LEFT", "RIGHT", "RIGHT"),
        )
    else:
        pdf.note("—", 9)


def _groups(pdf: _Pdf) -> None:
    d, lang = pdf.data, pdf.lang
    pdf.h2(t("groups", lang))
    if d.group_alerts is None:
        pdf.not_available("groups")
        return
    if d.group_alerts.height == 0:
        pdf.note(t("no_group_alerts", lang), 9, INK)
        return
    rows = []
    for r in d.group_alerts.to_dicts():
        kind = (
            t("alert_zombie", lang)
            if r["alert_type"] == "zombie"
            else t("alert_declining", lang)
            if r["alert_type"] == "declining"
            else r["alert_type"]
        )
        rows.append([r["group"], r["owner"], kind, r["reason_zh"] if lang == "zh" else r["reason_en"]])
    pdf.table(
        [t("group", lang), t("dac", lang), t("alert", lang), t("reason", lang)],
        rows,
        (20, 20, 22, 118),
        ("LEFT", "LEFT", "LEFT", "LEFT"),
        size=8,
    )
    if d.group_alerts_total > d.group_alerts.height:
        pdf.note(t("more_rows", lang, n=d.group_alerts_total - d.group_alerts.height), 8)


def _members(pdf: _Pdf) -> None:
    d, lang = pdf.data, pdf.lang
    pdf.h2(t("at_risk", lang))
    if d.at_risk is None:
        pdf.not_available("members")
        return
    bands = [t(f"band_{b}", lang) for b in d.at_risk["churn_band"].to_list()]
    members = [int(v) for v in d.at_risk["members"].to_list()]
    hist = d.at_risk["historic_clv"].to_list() if "historic_clv" in d.at_risk.columns else [None] * len(bands)
    pred = (
        d.at_risk["predicted_clv_12m"].to_list()
        if "predicted_clv_12m" in d.at_risk.columns
        else [None] * len(bands)
    )
    rows = [
        [b, f"{m:,}", fmt_money(h), fmt_money(p)]
        for b, m, h, p in zip(bands, members, hist, pred, strict=True)
    ]
    pdf.table(
        [t("band", lang), t("members", lang), t("historic_value", lang), t("predicted_value", lang)],
        rows,
        (50, 30, 50, 50),
        ("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )
    pdf.note(t("at_risk_note", lang, as_of=d.at_risk_as_of or "—"), 7.5)
    if d.model_fallback:
        pdf.note(t("model_fallback", lang), 7.5, BAD)


def _quality(pdf: _Pdf) -> None:
    d, lang = pdf.data, pdf.lang
    pdf.h2(t("data_quality", lang))
    q = d.data_quality
    if q is None:
        pdf.not_available("quality")
        return

    def n(key):
        v = q.get(key)
        return "—" if v is None else f"{v:,}"

    rows_in = q.get("rows") or 0
    qshare = f"{q['quarantined'] / rows_in:.2%}" if rows_in and q.get("quarantined") is not None else "—"
    pdf.note(
        t(
            "dq_line",
            lang,
            files=n("files"),
            registered=n("registered"),
            rows=n("rows"),
            loaded=n("loaded"),
            quarantined=n("quarantined"),
            qshare=qshare,
            reconciled=n("reconciled"),
            recon_total=n("recon_total"),
            checks_ok=n("checks_ok"),
            checks_failed=n("checks_failed"),
        ),
        9,
        INK,
    )


def _footnotes(pdf: _Pdf) -> None:
    lang = pdf.lang
    pdf.h2(t("footnotes", lang))
    keys = list(KPI_KEYS)
    for key in keys:
        m = metrics.get(key)
        pdf.note(
            f"{m.label(lang)}：{m.help(lang)}" if lang == "zh" else f"{m.label(lang)}: {m.help(lang)}", 7
        )
    pdf.note(t("privacy_note", lang), 7)


def _layout(data: ReportData, lang: str, font: CjkFont, chart_cache: dict) -> _Pdf:
    pdf = _Pdf(data, lang, font, chart_cache)
    pdf.add_page()
    _header(pdf)
    _headline(pdf)
    pdf.add_page()
    _attribution(pdf)
    _dacs(pdf)
    pdf.add_page()
    _groups(pdf)
    _members(pdf)
    _quality(pdf)
    _footnotes(pdf)
    return pdf


def render_pdf(data: ReportData, out_path: str | Path, lang: str = "zh") -> RenderResult:
    """Write the PDF for ``data`` to ``out_path`` (atomically: a temp file renamed into place).

    With a CFF (PostScript-outline) CJK font such as Noto Sans CJK, the document is laid out twice: the first
    pass collects the characters used, the second embeds a TrueType conversion of just those glyphs, so every
    PDF reader and text extractor gets a clean Unicode text layer.
    """
    lang = "en" if lang == "en" else "zh"
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    font = find_cjk_font()
    cache: dict = {}
    pdf = _layout(data, lang, font, cache)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="xiaoshuju-font-") as tmpdir:
        if is_cff(font.regular, font.regular_index):
            chars = pdf.used_chars
            reg = truetype_subset(font.regular, font.regular_index, chars, Path(tmpdir) / "regular.ttf")
            bold = truetype_subset(font.bold, font.bold_index, chars, Path(tmpdir) / "bold.ttf")
            pdf = _layout(data, lang, CjkFont(reg, 0, bold, 0), cache)
        pdf.output(str(tmp))
    tmp.replace(out_path)
    return RenderResult(path=out_path, pages=pdf.pages_count)
