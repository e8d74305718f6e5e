"""Shared page furniture: the page context (language, snapshot, filters in the URL), metric cards with registry
tooltips, tables with CSV/xlsx export, Altair charts with a CJK font."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data
from dashboards.i18n import column_label, l4_rule_label, metric_format, metric_help, metric_label, t, value_label
from xiaoshuju import metrics as metrics_registry

CJK_FONT = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, WenQuanYi Micro Hei, sans-serif"
CTX_KEY = "_xsj_ctx"
EMPTY_KEY = "_xsj_empty"


@dataclass(frozen=True)
class Ctx:
    lang: str
    key: data.SnapKey
    weeks: list[date]
    w_from: date | None
    w_to: date | None
    dac: str | None
    group: str | None

    def t(self, k: str, **fmt) -> str:
        return t(k, self.lang, **fmt)

    def label(self, metric_key: str) -> str:
        return metric_label(metric_key, self.lang)

    def help(self, metric_key: str) -> str | None:
        return metric_help(metric_key, self.lang)

    def in_range(self, df: pl.DataFrame) -> pl.DataFrame:
        """Rows of a weekly table inside the selected week range."""
        if self.w_from is None:
            return df
        return df.filter(pl.col("week_start").is_between(self.w_from, self.w_to))

    @property
    def weeks_text(self) -> str:
        return f"{data.week_label(self.w_from)} – {data.week_label(self.w_to)}"


def ctx() -> Ctx | None:
    """The context app.py built for this run; None when there is no snapshot (app.py already said so)."""
    return st.session_state.get(CTX_KEY)


def page_start(title_key: str) -> Ctx:
    """First line of every page: its title; or, without a usable snapshot, the "run the pipeline first" page."""
    c = ctx()
    if c is None:
        lang, reason = st.session_state.get(EMPTY_KEY, ("zh", "no_snapshot_body"))
        st.title(t("no_snapshot_title", lang))
        st.warning(t(reason, lang))
        st.stop()
    st.title(c.t(title_key))
    return c


# ---- query-string state --------------------------------------------------------------------------------------
def qp_get(name: str) -> str | None:
    v = st.query_params.get(name)
    if v in (None, ""):
        v = st.session_state.get(f"_qp_{name}")
    return v or None


def qp_set(name: str, value: str | None) -> None:
    st.session_state[f"_qp_{name}"] = value
    if value:
        if st.query_params.get(name) != value:
            st.query_params[name] = value
    elif name in st.query_params:
        del st.query_params[name]


def share_query(**overrides: str) -> str:
    """The current URL query (page, filters, language) with some values replaced, for in-app links."""
    from urllib.parse import urlencode

    q = {k: st.query_params.get(k) for k in ("lang", "page", "from", "to", "dac", "group")}
    q.update(overrides)
    return urlencode({k: v for k, v in q.items() if v})


# ---- display -----------------------------------------------------------------------------------------------
def not_available(c: Ctx, what: str) -> None:
    st.info(c.t("not_available", what=what))


def require(c: Ctx, name: str) -> pl.DataFrame | None:
    """The table if it is in the snapshot; otherwise say so and return None. (A table that is there but lacks a
    column the pages read raises data.SchemaMismatch instead: that is a bug, not missing data.)"""
    df = data.table(c.key, name)
    if df is None:
        not_available(c, name)
    return df


def metric_card(c: Ctx, col, key: str, value, previous=None) -> None:
    delta = None
    if previous is not None and value is not None:
        try:
            if previous:
                delta = f"{(float(value) - float(previous)) / abs(float(previous)):+.1%}"
            else:
                delta = None
        except (TypeError, ValueError):
            delta = None
    col.metric(c.label(key), metric_format(key, value), delta=delta, help=c.help(key))


def column_config(c: Ctx, df: pl.DataFrame) -> dict:
    """Column headers and tooltips from the metric registry (falls back to the column name)."""
    cfg = {}
    for col, dtype in df.schema.items():
        label = column_label(col, c.lang)
        h = c.help(col)
        fmt = number_format(col) if dtype.is_numeric() else None
        if fmt:
            cfg[col] = st.column_config.NumberColumn(label=label, help=h, format=fmt)
        elif label != col or h:
            cfg[col] = st.column_config.Column(label=label, help=h)
    return cfg


CATEGORY_COLUMNS = (
    "rfm_segment",
    "churn_band",
    "lifecycle_state",
    "prev_lifecycle_state",
    "clv_referral_cell",
    "alert_type",
    "method",
)


def translate(c: Ctx, df: pl.DataFrame, group_states: bool = False) -> pl.DataFrame:
    """Category codes (``champions``, ``high``, ``zombie`` …) shown in the current language."""
    if "l4_rule" in df.columns and df.schema["l4_rule"] == pl.String:
        df = df.with_columns(
            pl.col("l4_rule").replace_strict(
                {v: l4_rule_label(v, c.lang) for v in df["l4_rule"].unique().to_list() if v is not None},
                default=None,
                return_dtype=pl.String,
            )
        )
    cols = [col for col in CATEGORY_COLUMNS if col in df.columns and df.schema[col] == pl.String]
    if not cols:
        return df
    kind = "group_state" if group_states or "group" in df.columns or "group_id" in df.columns else ""
    return df.with_columns(
        pl.col(col).replace_strict(
            {v: value_label(v, c.lang, kind) for v in df[col].unique().to_list() if v is not None},
            default=None,
            return_dtype=pl.String,
        )
        for col in cols
    )


_PY_FMT = re.compile(r"^(?P<pre>[^{]*)\{:(?P<comma>,?)\.(?P<digits>\d)(?P<kind>[f%])\}(?P<post>.*)$")


def number_format(key: str) -> str | None:
    """The registry's display format (Python, e.g. ``¥{:,.0f}``, ``{:.1%}``) as a Streamlit column format."""
    try:
        m = _PY_FMT.match(metrics_registry.get(key).fmt)
    except (KeyError, ValueError, ImportError):
        return None
    if not m:
        return None
    if m["kind"] == "%":
        return "percent"
    return f"{m['pre']}%.{m['digits']}f{m['post']}".replace("%%", "%")


def _to_xlsx(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    out = df.with_columns(
        pl.col(c).cast(pl.String)
        for c, tp in df.schema.items()
        if isinstance(tp, (pl.List, pl.Struct, pl.Object))
    )
    out.write_excel(buf, worksheet="data", autofit=False)
    return buf.getvalue()


def _to_csv(df: pl.DataFrame) -> bytes:
    out = df.with_columns(
        pl.col(c).cast(pl.String)
        for c, tp in df.schema.items()
        if isinstance(tp, (pl.List, pl.Struct, pl.Object))
    )
    # BOM so Excel opens Chinese text correctly
    return "\ufeff".encode() + out.write_csv().encode("utf-8")


MAX_ROWS_SHOWN = 2000


def show_table(
    c: Ctx, df: pl.DataFrame, name: str, *, height: int | None = None, export: bool = True
) -> None:
    """A table with registry headers and CSV + xlsx download of the whole table (the screen shows the first
    MAX_ROWS_SHOWN rows)."""
    df = translate(c, data.masked(df))
    if df.height == 0:
        st.caption(c.t("no_rows"))
        return
    shown = df.head(MAX_ROWS_SHOWN)
    st.dataframe(shown, column_config=column_config(c, shown), hide_index=True, height=height or "auto")
    if df.height > MAX_ROWS_SHOWN:
        st.caption(c.t("rows_shown", shown=MAX_ROWS_SHOWN, total=df.height))
    if export:
        labels = {col: column_label(col, c.lang) for col in df.columns}
        if len(set(labels.values())) == len(labels):
            df = df.rename(labels)
        fname = f"{name}_{c.key.version}"
        row = st.container(horizontal=True)  # buttons at their natural width, also inside a half-width column
        row.download_button(
            c.t("download_csv"),
            data=lambda: _to_csv(df),
            file_name=f"{fname}.csv",
            mime="text/csv",
            key=f"csv_{name}",
            on_click="ignore",
        )
        row.download_button(
            c.t("download_xlsx"),
            data=lambda: _to_xlsx(df),
            file_name=f"{fname}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"xlsx_{name}",
            on_click="ignore",
        )


def chart(ch: alt.TopLevelMixin, *, height: int = 280) -> None:
    """Render an Altair chart with a CJK font for every text mark, axis and legend."""
    ch = (
        ch.properties(height=height)
        .configure(font=CJK_FONT)
        .configure_axis(labelFont=CJK_FONT, titleFont=CJK_FONT)
        .configure_legend(labelFont=CJK_FONT, titleFont=CJK_FONT)
        .configure_title(font=CJK_FONT)
    )
    st.altair_chart(ch, width="stretch", theme=None)


def week_col(df: pl.DataFrame) -> pl.DataFrame:
    """Add the ISO week label used on chart axes."""
    if "week_start" not in df.columns:
        return df
    return df.with_columns(pl.col("week_start").dt.strftime("%G-W%V").alias("week"))
