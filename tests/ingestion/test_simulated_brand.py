"""End to end on the simulator's exports (scale S): quarantine matches the injected defects exactly, identity
resolution meets the acceptance bar on recoverable links, every file reconciles, re-running is a no-op."""

import pytest

from assets.staging.evaluate import identity_scores, quarantine_scores, reconciliation_summary


@pytest.fixture(scope="module")
def sim_home(tmp_path_factory):
    from xiaoshuju.simulator import simulate

    root = tmp_path_factory.mktemp("sim")
    mp = pytest.MonkeyPatch()
    mp.setenv("XIAOSHUJU_HMAC_KEY", "sim-test-secret")
    mp.setenv("XIAOSHUJU_HOME", str(root / "home"))
    from xiaoshuju.settings import load_settings

    s = load_settings(root / "home").ensure_dirs()
    simulate("S", seed=1, out_dir=s.inbox, truth_dir=s.ground_truth)
    import duckdb

    from assets.landing.register import register_inbox
    from assets.staging.pipeline import run_staging
    from xiaoshuju.warehouse import apply_schema

    conn = duckdb.connect(str(s.warehouse))
    apply_schema(conn)
    register_inbox(conn, s.inbox, s.archive)
    report = run_staging(conn, s)
    yield s, conn, report
    conn.close()
    mp.undo()


@pytest.mark.slow
def test_quarantine_matches_injected_defects(sim_home):
    s, conn, _ = sim_home
    q = quarantine_scores(conn, s.ground_truth)
    assert q["expected"] > 50
    assert q["missed"] == [] and q["unexpected"] == []
    assert q["precision"] == 1.0 and q["recall"] == 1.0


@pytest.mark.slow
def test_identity_resolution_on_recoverable_links(sim_home):
    s, conn, _ = sim_home
    ident = identity_scores(conn, s.ground_truth, s.hmac_key)
    assert ident["precision"] >= 0.99
    assert ident["recall"] >= 0.95


@pytest.mark.slow
def test_every_file_reconciles_and_rerun_is_noop(sim_home):
    s, conn, report = sim_home
    rec = reconciliation_summary(conn)
    assert rec["files"] == report.load.n_files > 300 and rec["reconciled"] == rec["files"]
    from assets.staging.pipeline import run_staging

    before = conn.execute("SELECT count(*), sum(net_amount) FROM staging.orders").fetchone()
    again = run_staging(conn, s)
    assert again.load.n_files == 0 and not again.rebuilt
    assert conn.execute("SELECT count(*), sum(net_amount) FROM staging.orders").fetchone() == before


@pytest.mark.slow
def test_staging_shapes_match_truth(sim_home):
    import polars as pl

    s, conn, _ = sim_home
    truth_groups = pl.read_parquet(s.ground_truth / "groups.parquet")
    assert conn.execute("SELECT count(*) FROM staging.groups").fetchone()[0] == truth_groups.height
    # every group has its owner resolved
    assert (
        conn.execute("SELECT count(*) FROM staging.groups WHERE owner_member_id IS NULL").fetchone()[0] == 0
    )
    # no message text anywhere: the messages table has no text column
    cols = [r[0] for r in conn.execute("DESCRIBE staging.messages").fetchall()]
    assert not {"content", "text", "msg", "StrContent"} & set(cols)
    # questions get first responses
    answered = conn.execute(
        "SELECT avg((first_response_at IS NOT NULL)::INT) FROM staging.messages WHERE is_question"
    ).fetchone()[0]
    assert answered > 0.3
