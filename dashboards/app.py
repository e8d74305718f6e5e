"""xiaoshuju brand managers' dashboard (Streamlit entry point).

Run with ``xiaoshuju dashboard`` (127.0.0.1:8501). This script builds what every page shares — language, the
current serving snapshot, the page and the global filters (week range, 大C, group), all kept in the URL query
(``?page=groups&dac=…&from=2026-W10&to=2026-W20&lang=en``) so a view can be shared — and then runs the selected
page's ``main()`` from ``dashboards/pages/``. (We dispatch pages ourselves rather than with ``st.navigation``:
the page is then part of the same query string as the filters, and the whole app is testable with AppTest.)
"""

from __future__ import annotations

import importlib
from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

from dashboards import data, ui
from dashboards.i18n import t
from xiaoshuju.settings import load_settings

# (page id in the URL, i18n key of its title, module under dashboards/pages)
PAGES = (
    ("overview", "page_overview", "overview"),
    ("members", "page_members", "members"),
    ("groups", "page_groups", "groups"),
    ("dac", "page_dac", "dac"),
    ("fission", "page_fission", "fission"),
    ("quality", "page_quality", "data_quality"),
)


def _synced(widget_key: str, qp_name: str, value) -> None:
    """Seed a widget from the URL when the URL changed since we last wrote it (shared link, back button)."""
    marker = f"_synced_{qp_name}"
    if st.session_state.get(marker) != value or widget_key not in st.session_state:
        st.session_state[widget_key] = value
        st.session_state[marker] = value


def _language() -> str:
    lang = ui.qp_get("lang") or "zh"
    lang = lang if lang in ("zh", "en") else "zh"
    _synced("w_lang", "lang", lang)
    lang = st.sidebar.radio(
        t("language", lang),
        ["zh", "en"],
        key="w_lang",
        horizontal=True,
        format_func=lambda x: {"zh": "中文", "en": "English"}[x],
    )
    ui.qp_set("lang", None if lang == "zh" else lang)
    st.session_state["_synced_lang"] = lang
    return lang


def _filters(lang: str, key: data.SnapKey, as_of) -> tuple:
    sb = st.sidebar
    sb.subheader(t("filters", lang))
    all_weeks = data.weeks(key)
    w_from, w_to = data.week_window(
        all_weeks, data.week_from_label(ui.qp_get("from")), data.week_from_label(ui.qp_get("to")), as_of
    )
    default = tuple(data.week_label(w) for w in data.week_window(all_weeks, None, None, as_of))
    if all_weeks:
        labels = [data.week_label(w) for w in all_weeks]
        current = (data.week_label(w_from), data.week_label(w_to))
        # Keyed by the range itself, so a range coming from the URL (shared link) re-seeds the widget.
        lo, hi = sb.select_slider(
            t("week_range", lang), options=labels, value=current, key=f"w_weeks_{current[0]}_{current[1]}"
        )
        w_from, w_to = data.week_from_label(lo), data.week_from_label(hi)
        if not data.is_complete(w_to, as_of):
            sb.caption(t("partial_week", lang, week=hi))
        full = (lo, hi) == default
        ui.qp_set("from", None if full else lo)
        ui.qp_set("to", None if full else hi)

    dacs = data.dac_labels(key)
    dac = ui.qp_get("dac")
    dac = dac if dac in dacs else ""
    _synced("w_dac", "dac", dac)
    dac = sb.selectbox(
        t("filter_dac", lang),
        [""] + list(dacs),
        key="w_dac",
        format_func=lambda x: dacs.get(x, t("all", lang)) if x else t("all", lang),
    )
    st.session_state["_synced_dac"] = dac
    ui.qp_set("dac", dac or None)

    groups = data.group_labels(key)
    group_ids = data.groups_of_dac(key, dac) if dac else list(groups)
    group = ui.qp_get("group")
    group = group if group in group_ids else ""
    _synced("w_group", "group", group)
    group = sb.selectbox(
        t("filter_group", lang),
        [""] + group_ids,
        key="w_group",
        format_func=lambda x: groups.get(x, x) if x else t("all", lang),
    )
    st.session_state["_synced_group"] = group
    ui.qp_set("group", group or None)
    sb.caption(t("share_hint", lang))
    return all_weeks, w_from, w_to, dac or None, group or None


def _local(ts: str | None) -> str:
    """An ISO timestamp shown in the brand's timezone, to the minute."""
    if not ts:
        return "—"
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return ts
    if dt.tzinfo is not None:
        dt = dt.astimezone(ZoneInfo(load_settings().timezone))
    return dt.strftime("%Y-%m-%d %H:%M")


def _snapshot_caption(lang: str, snap) -> None:
    st.sidebar.caption(
        f"{t('snapshot', lang)} · {t('data_as_of', lang)} **{_local(snap.data_as_of)}** · "
        f"{t('built_at', lang)} {_local(snap.built_at)} · {t('version', lang)} `{snap.version}`"
    )


def _page(lang: str) -> str:
    """The page picker (sidebar); the page id lives in the URL like the filters, so a link opens the same view."""
    ids = [p for p, _, _ in PAGES]
    page = ui.qp_get("page")
    page = page if page in ids else "overview"
    _synced("w_page", "page", page)
    titles = {p: t(k, lang) for p, k, _ in PAGES}
    page = st.sidebar.radio(t("app_title", lang), ids, key="w_page", format_func=titles.get)
    st.session_state["_synced_page"] = page
    ui.qp_set("page", None if page == "overview" else page)
    return page


def main() -> None:
    st.set_page_config(page_title="小数据 xiaoshuju", page_icon="📊", layout="wide")
    lang = _language()
    page = _page(lang)
    module = importlib.import_module(f"dashboards.pages.{dict((p, m) for p, _, m in PAGES)[page]}")
    key, snap = data.current()
    if key is None or data.is_empty(key):
        # every page then shows the friendly "run the pipeline first" page (ui.page_start)
        st.session_state[ui.CTX_KEY] = None
        st.session_state[ui.EMPTY_KEY] = (lang, "no_snapshot_body" if key is None else "empty_snapshot")
        if snap is not None:
            _snapshot_caption(lang, snap)
        module.main()
        return
    all_weeks, w_from, w_to, dac, group = _filters(lang, key, data.as_of_date(snap.data_as_of))
    _snapshot_caption(lang, snap)
    st.session_state[ui.CTX_KEY] = ui.Ctx(lang, key, all_weeks, w_from, w_to, dac, group)
    module.main()


main()
