"""数据质量 Data quality: file manifest, per-file reconciliation, quarantine reasons, contract/check results, identity
match rate, and whether to trust the CLV model (calibration vs holdout)."""

import altair as alt
import polars as pl
import streamlit as st

from dashboards import data, ui


def main() -> None:
    c = ui.page_start("quality_title")
    man = data.table(c.key, data.MANIFEST)
    rec = data.table(c.key, data.RECONCILIATION)
    qs = data.table(c.key, data.QUARANTINE_SUMMARY)
    cols = st.columns(4)
    cols[0].metric(c.t("files"), f"{man.height:,}" if man is not None else "—")
    if rec is not None:
        cols[1].metric(c.t("rows"), f"{int(rec['rows_in'].sum()):,}")
        cols[2].metric(c.t("quarantined_rows"), f"{int(rec['rows_quarantined'].sum()):,}")
        cols[3].metric(c.t("unreconciled"), f"{int((~rec['reconciled']).sum()):,}")

    st.header(c.t("manifest"))
    if man is None:
        ui.not_available(c, data.MANIFEST)
    else:
        keep = data.COLUMNS[data.MANIFEST]
        ui.show_table(c, man.sort("first_seen_at", descending=True).select(keep), "file_manifest")

    st.header(c.t("reconciliation"))
    if rec is None:
        ui.not_available(c, data.RECONCILIATION)
    else:
        keep = [x for x in rec.columns if x not in ("file_sha256",)]
        ui.show_table(c, rec.sort("reconciled", "file_name").select(keep), "reconciliation")

    _quarantine(c, qs)
    _checks(c)
    _identity(c)
    _referral_anomalies(c)
    _model(c)


def _quarantine(c: ui.Ctx, qs: pl.DataFrame | None) -> None:
    st.header(c.t("quarantine"))
    if qs is None:
        ui.not_available(c, data.QUARANTINE_SUMMARY)
        return
    if qs.height:
        by_reason = (
            qs.group_by("reason_code")
            .agg(pl.col("rows_quarantined").sum())
            .sort("rows_quarantined", descending=True)
        )
        ui.chart(
            alt.Chart(by_reason.to_pandas())
            .mark_bar()
            .encode(
                x=alt.X("rows_quarantined:Q", title=c.t("quarantined_rows")),
                y=alt.Y("reason_code:N", sort="-x", title=c.t("reason_code")),
                tooltip=["reason_code", "rows_quarantined"],
            ),
            height=max(120, 26 * by_reason.height),
        )
    ui.show_table(c, qs, "quarantine_summary")
    sample = data.table(c.key, data.QUARANTINE_SAMPLE)
    if sample is not None and sample.height:
        with st.expander(data.QUARANTINE_SAMPLE):
            ui.show_table(c, sample.select(data.COLUMNS[data.QUARANTINE_SAMPLE]), "quarantine_sample")


def _checks(c: ui.Ctx) -> None:
    st.header(c.t("contracts"))
    df = data.table(c.key, data.CHECK_STATUS)
    if df is None:
        ui.not_available(c, data.CHECK_STATUS)
    else:
        ui.show_table(c, df.sort("passed"), "check_status")
    alerts = data.table(c.key, data.ALERT_LOG)
    if alerts is not None and alerts.height:
        with st.expander("ops.alert_log"):
            ui.show_table(c, alerts, "alert_log")


def _identity(c: ui.Ctx) -> None:
    st.header(c.t("identity"))
    df = data.table(c.key, data.IDENTITY_MATCH_RATE)
    if df is None:
        ui.not_available(c, data.IDENTITY_MATCH_RATE)
        return
    src = "source_format"
    if df.height:
        ui.chart(
            alt.Chart(df.to_pandas())
            .mark_bar()
            .encode(
                x=alt.X(
                    "match_rate:Q",
                    title=c.label("match_rate"),
                    axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1]),
                ),
                y=alt.Y(f"{src}:N", title=src),
                tooltip=[src, alt.Tooltip("match_rate:Q", format=".1%")],
            ),
            height=max(120, 26 * df.height),
        )
    ui.show_table(c, df, "identity_match_rate")


def _referral_anomalies(c: ui.Ctx) -> None:
    """Self-referrals and referral cycles found (and cut) in the input, in words."""
    ra = data.table(c.key, data.REFERRAL_ANOMALIES)
    if ra is None or ra.height == 0:
        return
    st.header(c.t("referral_anomalies"))
    detail = "detail_zh" if c.lang == "zh" else "detail_en"
    keep = ("kind", "member_id", "referrer_member_id", "cycle_length", "edge_dropped", detail)
    ui.show_table(c, ra.select(keep), "referral_anomalies")


def _model(c: ui.Ctx) -> None:
    st.header(c.t("model_trust"))
    model = data.table(c.key, data.CLV_MODEL)
    if model is None or model.height == 0:
        ui.not_available(c, data.CLV_MODEL)
    else:
        row = model.row(0, named=True)
        status = row.get("status")
        if status and status != "fitted":
            st.warning(f"{status}: {row.get('status_reason') or ''}")
        elif status:
            st.success(f"{status} · n = {row.get('n_customers')} · {row.get('calibration_status') or ''}")
        cols = st.columns(3)
        for i, k in enumerate(("holdout_predicted_repeat", "holdout_actual_repeat", "holdout_error_pct")):
            ui.metric_card(c, cols[i], k, row[k])
        with st.expander(c.t("model_params")):
            st.dataframe(
                model.transpose(
                    include_header=True, header_name="param", column_names=["value"]
                ).with_columns(pl.col("value").cast(pl.String)),
                hide_index=True,
            )
    cal = data.table(c.key, data.CLV_CALIBRATION)
    if cal is None:
        ui.not_available(c, data.CLV_CALIBRATION)
        return
    if cal.height:
        buckets = cal.filter(pl.col("bucket") != "all").sort("bucket_order")
        long = buckets.unpivot(
            index="bucket",
            on=["predicted_repeat", "actual_repeat"],
            variable_name="kind",
            value_name="repeat",
        ).with_columns(
            pl.col("kind").replace_strict({k: c.label(k) for k in ("predicted_repeat", "actual_repeat")})
        )
        ui.chart(
            alt.Chart(long.to_pandas())
            .mark_bar()
            .encode(
                x=alt.X("bucket:N", title=c.label("bucket"), sort=buckets["bucket"].to_list()),
                xOffset="kind:N",
                y=alt.Y("repeat:Q", title=c.t("value")),
                color=alt.Color("kind:N", title=""),
                tooltip=["bucket", "kind", "repeat"],
            ),
            height=240,
        )
    ui.show_table(c, cal, "clv_calibration")
