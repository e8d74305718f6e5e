"""The landing asset: the inbox's file manifest."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.landing.register import register_inbox
from pipelines.resources import SettingsResource
from xiaoshuju.warehouse import apply_schema, markdown_preview


@dg.asset(
    key=["landing", "manifest"],
    group_name="landing",
    kinds={"duckdb", "python"},
    owners=["team:data-engineering"],
    pool="duckdb_writer",
)
def landing_manifest(
    context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    """Every export the brand has dropped into the inbox — orders, chat logs, referral records — with its content
    hash, detected layout, encoding and size. The original is kept byte for byte in the archive, so nothing a brand
    sent us is ever lost; the same file dropped twice counts once. Files we cannot read are listed by name with
    what is wrong, so the brand can re-export them."""
    s = settings.get()
    with warehouse.get_connection() as conn:
        apply_schema(conn)
        report = register_inbox(conn, s.inbox, s.archive)
        total, unknown = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'registered') FROM landing.manifest"
        ).fetchone()
        preview = markdown_preview(
            conn,
            "SELECT file_name, detected_format, encoding, row_count, size_bytes, status FROM landing.manifest "
            "ORDER BY first_seen_at DESC, file_name",
        )
    for p in report.problems:
        context.log.warning(f"{p['file_name']}: {p['problem']}")
    problems_md = "\n".join(f"- **{p['file_name']}** ({p['status']}): {p['problem']}" for p in report.problems)
    return dg.MaterializeResult(
        metadata={
            "new_files": report.n_new,
            "duplicates_ignored": len(report.duplicates),
            "files_total": int(total),
            "files_not_readable_total": int(unknown),
            "problem_files": dg.MetadataValue.md(problems_md or "none"),
            "preview": dg.MetadataValue.md(preview),
        }
    )
