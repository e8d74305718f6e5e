"""The Dagster shell: the multi-asset materialises every staging key and its blocking checks pass on good data."""

import pytest


@pytest.mark.slow
def test_materialize_staging_with_checks(home, monkeypatch):
    import dagster as dg

    from assets import landing, staging
    from pipelines.resources import build_resources

    monkeypatch.setenv("XIAOSHUJU_HOME", str(home.root))
    for name in (
        "youzan_orders_bom.csv",
        "桃子团购群_12345678901@chatroom.csv",
        "groupchat_wrGroup0001.json",
        "wecom_archive_20240610.jsonl",
    ):
        home.drop_fixture(name)
    home.drop("junk.csv", b"what,is,this\r\n1,2,3\r\n")
    home.conn.close()
    result = dg.materialize(
        [*landing.ASSETS, *staging.ASSETS, *staging.CHECKS],
        resources=build_resources(home.settings),
        raise_on_error=False,
    )
    assert result.success
    keys = {
        m.asset_key.to_user_string()
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert {
        "staging/orders",
        "staging/order_lines",
        "staging/members",
        "staging/member_identities",
        "staging/groups",
        "staging/group_memberships",
        "staging/messages",
        "staging/referrals",
        "quarantine/rows",
    } <= keys
    evals = {
        (e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()
    }
    assert evals[("quarantine/rows", "reconciliation")] is True
    assert all(evals[(k, "contract")] for k in keys if k != "landing/manifest")
    assert (home.settings.reports / "data_docs" / "index.html").exists()
    import duckdb

    home.conn = duckdb.connect(str(home.settings.warehouse))


def test_definitions_expose_staging_keys():
    from assets import staging

    keys = {k.to_user_string() for a in staging.ASSETS for k in a.keys}
    assert keys == {
        "staging/orders",
        "staging/order_lines",
        "staging/members",
        "staging/member_identities",
        "staging/groups",
        "staging/group_memberships",
        "staging/messages",
        "staging/referrals",
        "quarantine/rows",
    }
    for spec in staging.ASSETS[0].specs:
        assert [d.asset_key.to_user_string() for d in spec.deps] == ["landing/manifest"]
        assert spec.group_name == "staging"


def test_keys_are_enforced_by_the_contract_check_not_an_index(home, tmp_path):
    """Big staging tables carry no primary-key index (DuckDB rebuilds / deletes slowly with one): a duplicate key
    is accepted by the table but fails the blocking contract validation."""
    from data_contracts.gx_suites import validate_table

    home.drop_fixture("wecom_archive_20240610.jsonl")
    home.run()
    assert validate_table(home.conn, "messages", tmp_path / "docs").success
    home.conn.execute("INSERT INTO staging.messages SELECT * FROM staging.messages LIMIT 1")
    v = validate_table(home.conn, "messages", tmp_path / "docs")
    assert not v.success
    assert any(f["column"] == "duplicate_keys" for f in v.failures)
