"""Hand-built brands with known answers, shared by the 大C mart tests (unique module name: pytest prepend mode)."""

from datetime import date


def small_brand(wh):
    wh.member("d1", "2024-11-01 00:00", role="L4", l4_at=date(2024, 11, 20), clv=500)
    wh.member("d2", "2024-11-01 00:00", role="L2")  # 大C only because d2 owns a group
    wh.member("x", "2024-11-01 00:00", role="L3")  # a referrer who is not a 大C
    for m in ("c1", "c2", "c3", "c4", "c5"):
        wh.member(m, "2024-11-25 00:00")
    wh.group("g1", "d1", "2024-11-25 00:00")
    wh.group("g2", "d2", "2024-11-26 00:00")
    wh.membership("g1", "c1", "join", "2024-11-25 10:00")
    wh.membership("g2", "c1", "join", "2024-12-01 00:00")
    wh.membership("g1", "c2", "join", "2024-11-26 00:00")
    wh.membership("g1", "c2", "leave", "2024-12-03 00:00")
    wh.membership("g2", "c3", "join", "2024-11-27 00:00")
    wh.referral("d1", "c1", "2024-11-25 10:00")
    wh.referral("d2", "c1", "2024-11-30 00:00")  # later binding: first touch stays d1
    wh.referral("x", "c2", "2024-11-26 00:00")
    wh.referral("c3", "c3", "2024-11-20 00:00")  # self-referral: ignored
    wh.referral("d2", "c3", "2024-11-27 00:00")
    wh.order("o1", "c1", "2024-11-28 02:00", 100)  # only in g1
    wh.order(
        "o2", "c1", "2024-12-01 20:00", 50, seller="d1"
    )  # in g1+g2: seller owns g1 → g1; Monday 04:00 BJT
    wh.order("o3", "c2", "2024-12-04 00:00", 30, seller="d2")  # left g1 already → no group
    wh.order("o4", "c3", "2024-11-28 00:00", 20)
    wh.order("o5", "c4", "2024-11-28 00:00", 99, is_paid=False)  # unpaid: not attributed
    wh.order("o6", "c5", "2024-11-29 00:00", 10, group_id="g1")  # order names its group
    wh.order("o8", "c1", "2024-12-03 00:00", 5)  # in g1+g2, no seller → most recent join g2


def tree_brand(wh):
    """d1 (大C) refers a (4 days after joining), b (19 days), c (44 days); a refers e (5 days); x refers x."""
    wh.member("d1", "2024-11-01 00:00", role="L4", l4_at=date(2024, 11, 1))
    wh.member("a", "2024-11-05 00:00", role="L4", l4_at=date(2024, 12, 3))
    wh.member("b", "2024-11-20 00:00")
    wh.member("c", "2024-12-15 00:00")
    wh.member("e", "2024-11-10 00:00")
    wh.member("x", "2024-11-10 00:00")
    wh.referral("d1", "a", "2024-11-05 00:00")
    wh.referral("d1", "b", "2024-11-20 00:00")
    wh.referral("d1", "c", "2024-12-15 00:00")
    wh.referral("a", "e", "2024-11-10 00:00")
    wh.referral("x", "x", "2024-11-10 00:00")
    wh.group("g1", "d1", "2024-11-01 00:00")  # d1 runs a group; a is a 大C because a sells to others
    wh.order("o1", "e", "2025-03-01 00:00", 70, seller="a")
    wh.order("o2", "d1", "2025-03-01 00:00", 500)
