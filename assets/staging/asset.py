"""The staging multi-asset: every registered export → canonical staging tables + quarantine (thin Dagster shell
over assets/staging/pipeline.py)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.staging.pipeline import run_staging
from pipelines.increments import staging_event_metadata
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import markdown_preview

STAGING_TABLES = (
    "orders",
    "order_lines",
    "members",
    "member_identities",
    "groups",
    "group_memberships",
    "messages",
    "referrals",
)
DESCRIPTIONS = {
    "orders": "Every order the brand sold through any shop system (有赞, 快团团, Shopify, canonical CSV), one row per "
    "order in its newest export — so a refund that arrives weeks later is reflected — with the buyer and the "
    "selling 大C resolved to members.",
    "order_lines": "What was in each order: product, price, quantity, line refunds (from the order's newest export).",
    "members": "One row per real person across every source — buyer, group member, 大C or staff — with masked name "
    "and phone only; the basis of every member, group and 大C metric.",
    "member_identities": "Which identifiers (keyed hashes of phone, wxid, WeCom ids, platform ids) belong to which "
    "member, from which source and how confidently; explains every identity match.",
    "groups": "Every WeChat / WeCom community group (社群) with its owner (the 大C) and first/last activity.",
    "group_memberships": "Who joined or left which group when, how (invite, QR, link, organic) and invited by whom.",
    "messages": "Every group chat message as behaviour only — kind, length, question flag, recall, first response "
    "time — never the text; the raw material of group vitality.",
    "referrals": "Who brought whom into the brand (invite records, 分销员 bindings, chat invites / QR scans, WeCom "
    "invitor): the edges of every referral tree.",
    "quarantine/rows": "Every exported record we did not load, with the file, line, a reason code and a masked "
    "preview, so nothing a brand sent is silently lost; originals stay in the archive.",
}

SPECS = [
    dg.AssetSpec(
        key=["staging", t],
        group_name="staging",
        deps=[["landing", "manifest"]],
        kinds={"duckdb", "polars"},
        description=DESCRIPTIONS[t],
        owners=["team:data-engineering"],
    )
    for t in STAGING_TABLES
] + [
    dg.AssetSpec(
        key=["quarantine", "rows"],
        group_name="staging",
        deps=[["landing", "manifest"]],
        kinds={"duckdb"},
        description=DESCRIPTIONS["quarantine/rows"],
        owners=["team:data-engineering"],
    )
]


@dg.multi_asset(specs=SPECS, name="staging_tables", pool="duckdb_writer")
def staging_tables(context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource):
    """Canonical staging: every export the brand sent — orders, customers, invite records, chat logs, WeCom
    snapshots — read with its data contract, identities resolved to one member per person, bad rows quarantined
    with a reason, each file reconciled (rows in = loaded + quarantined). Re-dropping a file changes nothing; a
    newer export of the same orders wins."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        report = run_staging(conn, s)
        for f in report.load.problems:
            context.log.warning(f"{f.file_name}: {f.problem}")
        q_total, q_files = conn.execute(
            "SELECT count(*), count(DISTINCT file_sha256) FROM quarantine.rows"
        ).fetchone()
        by_reason = markdown_preview(
            conn,
            "SELECT reason_code, count(*) AS n_rows, sum(records) AS records FROM quarantine.rows "
            "GROUP BY ALL ORDER BY n_rows DESC",
            limit=20,
        )
        match = markdown_preview(
            conn,
            "SELECT source_format, identifiers, members, matched_members, round(match_rate, 3) AS match_rate, "
            "low_confidence FROM ops.identity_match_rate ORDER BY source_format",
            limit=20,
        )
        previews = {t: markdown_preview(conn, f"SELECT * FROM staging.{t}", limit=5) for t in STAGING_TABLES}
        q_preview = markdown_preview(
            conn,
            "SELECT file_name, line_no, reason_code, reason, preview_masked FROM quarantine.rows "
            "ORDER BY quarantined_at DESC, file_name, line_no",
            limit=10,
        )
        # where the data begins and the earliest event of the files ingested now: the marts' run range
        events = staging_event_metadata(conn, [f.file_sha256 for f in report.load.files])
    common = {
        "files_ingested": report.load.n_files,
        "rebuilt": report.rebuilt,
        **events,
    }
    for t in STAGING_TABLES:
        md = {
            **common,
            "row_count": int(report.counts.get(t, 0)),
            "preview": dg.MetadataValue.md(previews[t]),
        }
        if t == "member_identities":
            md["identity_match_rate"] = dg.MetadataValue.md(match)
        yield dg.MaterializeResult(asset_key=["staging", t], metadata=md)
    yield dg.MaterializeResult(
        asset_key=["quarantine", "rows"],
        metadata={
            **common,
            "row_count": int(q_total),
            "files_with_quarantine": int(q_files),
            "by_reason": dg.MetadataValue.md(by_reason),
            "preview": dg.MetadataValue.md(q_preview),
            "problem_files": dg.MetadataValue.md(
                "\n".join(f"- **{f.file_name}**: {f.problem}" for f in report.load.problems) or "none"
            ),
        },
    )
