"""polars' allocator is configured before polars is loaded, whichever of our packages a process imports first,
and a value the operator set is kept (xiaoshuju/allocator.py). What it buys is measured, not
tested here (docs/data_contracts.md, session 21)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import os, sys\n"
    "import {pkg}\n"
    "assert 'polars' not in sys.modules or {pkg!r} != 'xiaoshuju'\n"
    "import polars\n"
    "print(os.environ.get('_RJEM_MALLOC_CONF'))\n"
)


def _run(pkg: str, env: dict) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(pkg=pkg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.parametrize("pkg", ["xiaoshuju", "data_contracts", "assets", "pipelines"])
def test_allocator_configured_before_polars(pkg):
    from xiaoshuju.allocator import ENV, POLARS_JEMALLOC

    env = {k: v for k, v in os.environ.items() if k != ENV}
    # polars puts its own defaults first and appends what it finds; jemalloc takes the last value of an option
    assert _run(pkg, env).endswith("," + POLARS_JEMALLOC)
    # set by the operator: left alone
    assert _run(pkg, {**env, ENV: "dirty_decay_ms:0"}).endswith(",dirty_decay_ms:0")


def test_no_package_loads_polars_before_the_allocator_setting():
    # the setting only works if it is in the environment when polars' library loads: importing the package that
    # sets it must not have loaded polars already
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    code = "import sys, xiaoshuju; print('polars' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert out.stdout.strip() == "False"


def test_duckdb_keeps_freed_blocks_and_the_setting_only_grows(tmp_path):
    import duckdb

    from xiaoshuju.warehouse import keep_block_memory, size_bytes

    assert size_bytes("0 bytes") == 0
    assert size_bytes("3.5 GiB") == int(3.5 * 2**30)
    assert size_bytes("512.0MiB") == 512 * 2**20
    with pytest.raises(ValueError):
        size_bytes("lots")
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))

    def kept() -> int:
        return size_bytes(conn.execute("SELECT current_setting('block_allocator_memory')").fetchone()[0])

    assert kept() == 0
    keep_block_memory(conn, "0.5GiB")
    assert kept() == 2**29
    # DuckDB refuses to lower it; asking for less leaves it as it is instead of failing the load or build
    keep_block_memory(conn, "256MiB")
    assert kept() == 2**29
    keep_block_memory(conn, "1GiB")
    assert kept() == 2**30
    with pytest.raises(ValueError):
        keep_block_memory(conn, "1GiB'; DROP TABLE x; --")
    conn.close()


def test_build_keeps_freed_blocks():
    # the staging build raises the warehouse's setting to BUILD_BLOCK_MEMORY_SHARE of RAM
    import duckdb

    from assets.staging.build import BUILD_BLOCK_MEMORY_SHARE, rebuild_staging
    from xiaoshuju.warehouse import apply_schema, ram_share, size_bytes

    conn = duckdb.connect()
    apply_schema(conn)
    rebuild_staging(conn)
    got = size_bytes(conn.execute("SELECT current_setting('block_allocator_memory')").fetchone()[0])
    assert abs(got - size_bytes(ram_share(BUILD_BLOCK_MEMORY_SHARE))) < 2**27
    conn.close()
