"""Scales and default parameters of the simulated brand (see docs/simulator.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8))
DEFAULT_END = date(2026, 11, 22)  # a Sunday: the fixed calendar keeps outputs deterministic


@dataclass(frozen=True)
class BgNbd:
    r: float = 0.9
    alpha: float = 4.0  # rate of the Gamma on the weekly purchase rate
    a: float = 0.8
    b: float = 6.0


@dataclass(frozen=True)
class GammaGamma:
    p: float = 6.0
    q: float = 4.0
    gamma: float = 45.0  # mean order value p*gamma/(q-1) = 90 yuan


@dataclass(frozen=True)
class Scale:
    name: str
    members: int
    seed_dacs: int
    weeks: int
    wecom_share: float
    liuhen_period: int  # weeks between 留痕 exports (and WeCom group-detail snapshots)
    archive_daily: bool
    details_per_file: int
    staff: int
    bgnbd: BgNbd = field(default_factory=BgNbd)
    gg: GammaGamma = field(default_factory=GammaGamma)
    buyer_share: float = 0.75
    zombie_share: float = 0.12
    msg_rate: float = 3.0  # member messages per member-week at vitality 1
    owner_msgs: float = 10.0  # owner messages per week at vitality 1
    refund_share: float = 0.035
    unpaid_share: float = 0.04
    masked_phone_share: float = 0.07
    seller_share: float = 0.75
    invite_record_share: float = 0.25
    ambition_share: float = 0.1
    promotion_min_referees: int = 3
    promotion_window_days: int = 90


SCALES: dict[str, Scale] = {
    "S": Scale("S", 3_000, 13, 26, 0.15, 4, False, 1, 2),
    # M: a faster-buying, slower-dropping crowd so that 52 weeks give ≈ 0.5M orders (≈ 5M messages)
    "M": Scale("M", 100_000, 420, 52, 0.75, 4, False, 500, 6, bgnbd=BgNbd(r=0.9, alpha=2.0, a=0.8, b=8.0),
               msg_rate=3.4),
    # L: 104 weeks of the default crowd give ≈ 5M orders; fewer member messages keep it at ≈ 50M messages
    "L": Scale("L", 1_000_000, 4_200, 104, 0.95, 8, True, 1_000, 20, msg_rate=1.5),
}


def make_scale(scale: str, weeks: int | None = None, members: int | None = None, groups: int | None = None) -> Scale:
    sc = SCALES[scale.upper()]
    changes: dict = {}
    if weeks:
        changes["weeks"] = int(weeks)
    if members:
        changes["members"] = int(members)
        if not groups:  # keep the members-per-seed-group ratio of the scale
            changes["seed_dacs"] = max(2, round(sc.seed_dacs * members / sc.members))
    if groups:
        changes["seed_dacs"] = max(2, round(groups / 1.9))
    return replace(sc, **changes)


def calendar(end: date, weeks: int) -> tuple[date, list[date], int]:
    """(start Monday, week starts, start as UTC epoch seconds of Monday 00:00 Shanghai)."""
    if end.weekday() != 6:
        raise ValueError(f"--end must be a Sunday, got {end} ({end.strftime('%A')})")
    start = end - timedelta(days=7 * weeks - 1)
    t0 = int(datetime(start.year, start.month, start.day, tzinfo=SHANGHAI).timestamp())
    return start, [start + timedelta(days=7 * k) for k in range(weeks)], t0
