"""The acceptance evaluation (bench/bench_group_vitality.evaluate_truth) on a hand-built brand with a hand-written
ground truth: which truth zombies count as comparable, precision/recall, excluded counts, zombie-date error."""

import hashlib
import sys
from pathlib import Path

import pytest
from gv_fixtures import add_group, membership, msg, new_db

from assets.marts.group_vitality.build import build_weekly
from xiaoshuju.settings import Thresholds

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


def _gid(key: str) -> str:
    return "g_" + hashlib.md5(key.encode()).hexdigest()[:16]


def _daily(conn, gid, sender, first_day: int, last_day: int, month: str = "2026-01") -> None:
    for day in range(first_day, last_day + 1):
        msg(conn, gid, sender, f"{month}-{day:02d} 12:00")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    from bench.bench_group_vitality import evaluate_truth

    tmp = tmp_path_factory.mktemp("gv_eval")
    conn = new_db(tmp / "wh.duckdb")
    truth = []  # (key, is_zombie, zombie_at in Beijing time)
    for key in ("ka", "kb", "kc", "kd", "ke", "kf"):
        add_group(conn, _gid(key), f"own_{key}", "2026-01-05 09:00")
        membership(conn, _gid(key), f"m_{key}", "join", "2026-01-05 09:00")
        msg(conn, _gid(key), f"own_{key}", "2026-01-05 09:30", owner=True)
    # ka: members talk daily until 01-25, dead from 01-26 (truth) -> detected, dated one usual gap later: 01-26
    _daily(conn, _gid("ka"), "m_ka", 5, 25)
    truth.append(("ka", True, "2026-01-26 12:00:00+08"))
    # kb: a truth zombie whose members never spoke or bought -> not comparable (never active)
    truth.append(("kb", True, "2026-01-20 12:00:00+08"))
    # kc: died 9 days before the data end -> not comparable (a 21-day rule cannot see it yet)
    _daily(conn, _gid("kc"), "m_kc", 5, 31)
    _daily(conn, _gid("kc"), "m_kc", 1, 19, month="2026-02")
    truth.append(("kc", True, "2026-02-20 12:00:00+08"))
    # kd: alive to the end (its message at 03-01 12:00 is the data end)
    for day in ("2026-01-10", "2026-01-20", "2026-01-30", "2026-02-09", "2026-02-19", "2026-03-01"):
        msg(conn, _gid("kd"), "m_kd", f"{day} 12:00")
    truth.append(("kd", False, None))
    # ke: truth says alive, but its members fell silent after 01-20 -> a false positive
    _daily(conn, _gid("ke"), "m_ke", 5, 20)
    truth.append(("ke", False, None))
    # kf: truth says alive, members never spoke (only the owner) -> a never-active group that is not a zombie
    truth.append(("kf", False, None))
    build_weekly(conn, Thresholds())

    conn.execute("CREATE TEMP TABLE t_groups (group_key VARCHAR, is_zombie BOOLEAN, zombie_at TIMESTAMPTZ)")
    conn.executemany("INSERT INTO t_groups VALUES (?, ?, CAST(? AS TIMESTAMPTZ))", truth)
    conn.execute(f"COPY t_groups TO '{tmp / 'groups.parquet'}' (FORMAT parquet)")
    conn.execute("""CREATE TEMP TABLE t_vit AS
                    SELECT 'ka' AS group_key, DATE '2026-01-12' + CAST(7 * i AS INTEGER) AS week_start, 0.9 - 0.2 * i AS vitality
                    FROM range(4) t(i)""")
    conn.execute(f"COPY t_vit TO '{tmp / 'group_vitality_weekly.parquet'}' (FORMAT parquet)")
    result = evaluate_truth(conn, tmp)
    states = dict(conn.execute(
        "SELECT group_id, arg_max(lifecycle_state, week_start) FROM marts.group_vitality_weekly GROUP BY 1").fetchall())
    conn.close()
    return result, states


def test_mart_states_of_the_fixture(evaluated):
    _, states = evaluated
    assert states[_gid("ka")] == "zombie" and states[_gid("ke")] == "zombie"
    assert states[_gid("kb")] == "dormant" and states[_gid("kf")] == "dormant"  # never active: not zombies
    assert states[_gid("kc")] == "dormant"  # silent 10 days at the end
    assert states[_gid("kd")] == "active"


def test_precision_recall_and_the_comparable_set(evaluated):
    r, _ = evaluated
    assert (r["zombies_truth"], r["zombies_detected"], r["true_positives"], r["false_positives"]) == (3, 2, 1, 1)
    assert r["precision"] == pytest.approx(0.5)
    assert r["recall"] == pytest.approx(1 / 3)
    assert (r["excluded_died_lt_silence"], r["excluded_never_active"], r["zombies_comparable"]) == (1, 1, 1)
    assert r["recall_comparable"] == pytest.approx(1.0) and r["missed_comparable"] == []
    # what flagging never-active groups would do: one more truth zombie (kb), one more false alarm (kf)
    assert r["never_active_silent_groups"] == {"truth_zombie": 1, "not_zombie": 1}


def test_zombie_date_error_and_weeks_compared(evaluated):
    r, _ = evaluated
    assert r["date_within_7d"] == pytest.approx(1.0)
    # 21 member messages from 01-05 09:00 to 01-25 12:00: one every 23 h, so the estimated death is 01-26 11:00
    assert r["date_median_abs_days"] == pytest.approx(0.0)
    assert r["group_weeks_compared"] == 4
    assert r["spearman_score"] is not None
