"""Settings come from defaults, TOML, env (in that order of precedence); the metric registry has one definition per key."""

import pytest

from xiaoshuju import metrics
from xiaoshuju.privacy import keyed_hash, mask_name, mask_phone, normalise_phone
from xiaoshuju.settings import load_settings


def test_settings_precedence(tmp_path, monkeypatch):
    home = tmp_path / "h"
    home.mkdir()
    (home / "xiaoshuju.toml").write_text(
        'brand = "acme"\n[thresholds]\nzombie_silence_days = 28\ntarget_speak_rate = 0.3\n'
        '[smtp]\nrecipients = ["ceo@example.com"]\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("XIAOSHUJU_CONFIG", raising=False)
    monkeypatch.setenv("XIAOSHUJU_THRESHOLDS_TARGET_SPEAK_RATE", "0.25")
    monkeypatch.setenv("XIAOSHUJU_SMTP_PORT", "2525")
    s = load_settings(home)
    assert s.brand == "acme"
    assert s.thresholds.zombie_silence_days == 28  # from TOML
    assert s.thresholds.target_speak_rate == 0.25  # env beats TOML
    assert s.thresholds.group_new_days == 14  # default
    assert s.smtp.port == 2525 and s.smtp.recipients == ("ceo@example.com",)
    assert s.warehouse == home.resolve() / "warehouse.duckdb"


def test_hmac_secret_generated_once(tmp_path, monkeypatch):
    monkeypatch.delenv("XIAOSHUJU_HMAC_KEY", raising=False)
    s = load_settings(tmp_path / "h2")
    k1 = s.hmac_key
    assert len(k1) == 64 and load_settings(tmp_path / "h2").hmac_key == k1
    assert (tmp_path / "h2" / "secret.key").stat().st_mode & 0o077 == 0


def test_hmac_secret_created_once_when_threads_race(tmp_path, monkeypatch):
    # the load's reader threads ask for the secret at the same moment on a first run: each must get the one secret
    # (no thread may fail on the file another created, nor read it before it is written)
    import threading

    monkeypatch.delenv("XIAOSHUJU_HMAC_KEY", raising=False)
    for i in range(20):
        home = tmp_path / f"h{i}"
        start = threading.Barrier(8)
        got: list = []

        def ask(home=home, start=start, got=got):
            s = load_settings(home)
            start.wait()
            try:
                got.append(s.hmac_key)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                got.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 8 and len(set(got)) == 1, got
        assert len(got[0]) == 64
        assert sorted(p.name for p in home.iterdir()) == ["secret.key"]  # no temporary file left behind


def test_an_empty_secret_file_is_an_error_not_an_empty_key(tmp_path, monkeypatch):
    monkeypatch.delenv("XIAOSHUJU_HMAC_KEY", raising=False)
    (tmp_path / "h3").mkdir()
    (tmp_path / "h3" / "secret.key").write_text("\n")
    with pytest.raises(ValueError, match="secret.key is empty"):
        _ = load_settings(tmp_path / "h3").hmac_key


def test_privacy_helpers():
    assert normalise_phone("\t+86 138-0013-8000") == "13800138000"
    assert normalise_phone("'13800138000") == "13800138000"
    assert normalise_phone("134****8175") is None
    assert mask_phone("\t13800138000") == "138****8000"
    assert mask_name("王小明") == "王**"
    h1, h2 = keyed_hash("13800138000", b"k1", "phone"), keyed_hash("13800138000", b"k2", "phone")
    assert h1 != h2 and len(h1) == 16 and "13800138000" not in h1
    assert keyed_hash("x", b"k1", "phone") != keyed_hash("x", b"k1", "wxid")


def test_keyed_hashes_equal_the_standard_hmac():
    import hashlib
    import hmac

    from xiaoshuju.privacy import keyed_hashes

    values = ["13800138000", "wxid_abc123", "王小明", "emoji🎉", "x" * 200]
    for key in (b"k", b"s" * 64, b"long-installation-secret-" * 5, bytes(range(256))[:100]):
        for kind in ("phone", "wxid", ""):
            want = [hmac.new(key, f"{kind}:{v}".encode(), hashlib.sha256).hexdigest()[:16] for v in values]
            assert keyed_hashes(values, key, kind) == want


def test_metric_registry_one_definition_per_key():
    ms = metrics.all_metrics()
    assert len({m.key for m in ms}) == len(ms) > 0
    for m in ms:
        assert m.zh and m.en and m.formula_zh and m.formula_en and m.unit, m.key
    gmv = metrics.get("gmv")
    assert gmv.label("zh") != gmv.label("en")
    assert gmv.format(1234.5) == "¥1,234"
    with pytest.raises(KeyError):
        metrics.get("no_such_metric")
    with pytest.raises(ValueError):
        metrics.register(metrics.Metric("gmv", "x", "x", "x", "x", "yuan"))
