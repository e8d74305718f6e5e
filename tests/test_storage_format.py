"""The warehouse's file format (xiaoshuju/warehouse.py STORAGE_VERSION): a new warehouse is written in DuckDB 1.5's
format, whichever way it is first opened (our connect, or Dagster's DuckDBResource); a warehouse made in the older
format stays in it and keeps its own string compression. What the format buys is measured in the ingestion bench,
not here (docs/data_contracts.md, session 23)."""

import duckdb

from pipelines.resources import build_resources
from xiaoshuju.settings import load_settings
from xiaoshuju.warehouse import STORAGE_VERSION, apply_schema, connect, storage_version

MESSAGE_IDS = (
    "SELECT 'wecom:6530000000' || (i * 7919)::VARCHAR || '_17669' AS message_id FROM range(200000) t(i)"
)


def _string_compressions(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    conn.execute("CHECKPOINT")
    return {
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT compression FROM pragma_storage_info('{table}') WHERE segment_type = 'VARCHAR'"
        ).fetchall()
    }


def test_a_new_warehouse_is_written_in_the_1_5_format(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with connect(db) as conn:
        assert storage_version(conn).startswith(STORAGE_VERSION)
        # nothing disabled: in this format DICT_FSST is how strings compress
        assert conn.execute("SELECT current_setting('disabled_compression_methods')").fetchone()[0] == ""
        conn.execute(f"CREATE TABLE t AS {MESSAGE_IDS}")
        assert "DICT_FSST" in _string_compressions(conn, "t")
    # the format belongs to the file: a plain DuckDB connection later still sees (and writes) it
    with duckdb.connect(str(db)) as conn:
        assert storage_version(conn).startswith(STORAGE_VERSION)
        conn.execute(f"CREATE TABLE t2 AS {MESSAGE_IDS}")
        assert "DICT_FSST" in _string_compressions(conn, "t2")


def test_an_older_warehouse_keeps_its_format_and_compression(tmp_path):
    db = tmp_path / "old.duckdb"
    duckdb.connect(str(db)).close()  # DuckDB's default format, as every warehouse before session 23 was made
    with connect(db) as conn:
        assert not storage_version(conn).startswith(STORAGE_VERSION)
        assert (
            conn.execute("SELECT current_setting('disabled_compression_methods')").fetchone()[0].lower()
            == "dict_fsst"
        )
        conn.execute(f"CREATE TABLE t AS {MESSAGE_IDS}")
        comps = _string_compressions(conn, "t")
        assert "DICT_FSST" not in comps and comps & {"FSST", "Dictionary"}, comps
    with connect(db, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 200000


def test_dagster_creates_the_warehouse_in_the_same_format(tmp_path):
    settings = load_settings(tmp_path)
    warehouse = build_resources(settings)["warehouse"]
    with warehouse.get_connection() as conn:
        apply_schema(conn)
        assert storage_version(conn).startswith(STORAGE_VERSION)


def test_in_memory_databases_have_no_file_format():
    with duckdb.connect() as conn:
        assert storage_version(conn) == ""
