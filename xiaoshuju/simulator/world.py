"""The simulated world: people, groups, joins/referrals, promotions to 大C and BG/NBD purchases.

Everything is vectorised per week (a loop over weeks, numpy inside); the bytes depend only on (scale, seed, end).
Times are int64 UTC epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from xiaoshuju.simulator import names as nm
from xiaoshuju.simulator.config import Scale

DAY = 86_400
WEEK = 7 * DAY
NONE = -1  # missing index / time
SCENES = np.array(["owner", "invite", "qr", "link", "organic"], dtype=object)
SC_OWNER, SC_INVITE, SC_QR, SC_LINK, SC_ORGANIC = range(5)


def stream(seed: int, *key: int) -> np.random.Generator:
    """An independent, reproducible random stream per (seed, stage, week...)."""
    return np.random.default_rng([seed, *key])


@dataclass
class World:
    sc: Scale
    seed: int
    t0: int
    t_end: int
    weeks: int
    # persons (index = person number; seeds first, then members in arrival order, staff last)
    n: int
    n_seed: int
    staff_idx: np.ndarray
    name: np.ndarray
    nick: np.ndarray
    nick2: np.ndarray  # changed nickname ('' if none)
    nick_change_at: np.ndarray
    phone: np.ndarray
    wxid: np.ndarray
    ext_userid: np.ndarray
    unionid: np.ndarray
    youzan_uid: np.ndarray
    internal_userid: np.ndarray
    owner_nick: np.ndarray  # a 大C's nickname in their own groups ('【团长】王芳 138…' for 80 %)
    remark: np.ndarray  # the home-group owner's remark for this member
    remark_phone: np.ndarray  # bool: remark contains the phone (留痕) / remark_mobiles set (WeCom)
    joined_at: np.ndarray
    home_group: np.ndarray
    scene: np.ndarray
    inviter: np.ndarray
    removed_at: np.ndarray
    is_dac: np.ndarray
    dac_since: np.ndarray
    promoted_at: np.ndarray
    chat_weight: np.ndarray
    lam: np.ndarray
    p_drop: np.ndarray
    nu: np.ndarray
    dropout_at: np.ndarray
    in_invite_records: np.ndarray
    # groups
    g_owner: np.ndarray
    g_created: np.ndarray
    g_zombie_at: np.ndarray  # NONE if not a zombie
    g_wecom: np.ndarray
    g_key: np.ndarray
    g_name: np.ndarray
    vitality: np.ndarray  # (groups, weeks), NaN before creation
    # purchases (one row per order, sorted by person then time)
    o_person: np.ndarray
    o_paid_at: np.ndarray
    o_created_at: np.ndarray
    o_is_paid: np.ndarray
    o_amount: np.ndarray  # 实付 in fen (0 for unpaid)
    o_receivable: np.ndarray  # fen
    o_refund: np.ndarray  # fen
    o_refund_at: np.ndarray
    o_seller: np.ndarray
    o_solitaire: np.ndarray
    _pools: dict = field(default_factory=dict, repr=False)

    @property
    def n_groups(self) -> int:
        return len(self.g_owner)

    def nick_at(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        changed = (self.nick_change_at[idx] != NONE) & (t >= self.nick_change_at[idx])
        return np.where(changed, self.nick2[idx], self.nick[idx])

    def pool(self, attr: str) -> pl.Series:
        """A string attribute (``nick``, ``phone``, ``g_key``…) as a polars Series with one extra trailing ``''``
        (position len = the value of index NONE), converted once and cached."""
        s = self._pools.get(attr)
        if s is None:
            a = getattr(self, attr)
            s = pl.Series(attr, np.r_[a, np.array([""], dtype=object)].astype(object), dtype=pl.String, strict=False)
            self._pools[attr] = s
        return s

    def take(self, attr: str, idx) -> pl.Series:
        """String attribute at index array ``idx`` (``NONE`` → ``''``) as a polars Series — no numpy strings."""
        s = self.pool(attr)
        idx = np.asarray(idx, dtype=np.int64)
        return s.gather(np.where(idx < 0, len(s) - 1, idx))

    def take_nick_at(self, idx, t) -> pl.Series:
        """``nick_at`` as a polars Series (``NONE`` → ``''``)."""
        idx = np.asarray(idx, dtype=np.int64)
        if "nick_all" not in self._pools:
            self._pools["nick_all"] = pl.concat([self.pool("nick")[:-1], self.pool("nick2")])
        ok = idx >= 0
        ci = np.clip(idx, 0, None)
        changed = ok & (self.nick_change_at[ci] != NONE) & (t >= self.nick_change_at[ci])
        s = self._pools["nick_all"]
        return s.gather(np.where(~ok, len(s) - 1, np.where(changed, ci + self.n, ci)))


def _vitality_paths(rng: np.random.Generator, n: int, weeks: int, created_week: np.ndarray,
                    zombie_week: np.ndarray) -> np.ndarray:
    x = rng.normal(0.4, 0.7, (n, 1)) + np.cumsum(rng.normal(0, 0.22, (n, weeks)), axis=1)
    v = 1 / (1 + np.exp(-x))
    wk = np.arange(weeks)[None, :]
    zw = zombie_week[:, None]
    is_z = zw >= 0
    decay = np.clip((zw - wk) / 6.0, 0.03, 1.0)  # linear decay over the 6 weeks before the zombie date
    v = np.where(is_z, v * decay, v)
    v = np.where(is_z & (wk >= zw), 0.01, v)
    v = np.where(wk < created_week[:, None], np.nan, v)
    return np.round(v, 4)


def _weighted_pick_in_group(rng, cand_group: np.ndarray, cand_idx: np.ndarray, cand_w: np.ndarray,
                            want_group: np.ndarray, n_groups: int) -> np.ndarray:
    """For each entry of want_group pick one candidate of that group with probability ∝ weight (NONE if none)."""
    out = np.full(len(want_group), NONE, dtype=np.int64)
    if len(cand_idx) == 0 or len(want_group) == 0:
        return out
    order = np.argsort(cand_group, kind="stable")
    g_sorted, i_sorted = cand_group[order], cand_idx[order]
    cum = np.cumsum(cand_w[order])
    lo_pos = np.searchsorted(g_sorted, np.arange(n_groups), "left")
    hi_pos = np.searchsorted(g_sorted, np.arange(n_groups), "right")
    cum0 = np.concatenate([[0.0], cum])
    lo = cum0[lo_pos[want_group]]
    hi = cum0[hi_pos[want_group]]
    has = hi > lo
    u = lo + rng.random(len(want_group)) * (hi - lo)
    pos = np.searchsorted(cum, u, "right")
    pos = np.clip(pos, lo_pos[want_group], np.maximum(hi_pos[want_group] - 1, lo_pos[want_group]))
    out[has] = i_sorted[np.minimum(pos[has], len(i_sorted) - 1)]
    return out


LOCAL = 8 * 3600  # purchase days are Asia/Shanghai calendar days (the mart counts same-day orders once)


def _distinct_days(rng, owner: np.ndarray, span: np.ndarray) -> np.ndarray:
    """A uniformly random set of distinct day offsets in 1..span[owner] for each owner's run of draws (owner sorted,
    every owner's count ≤ its span): draw with replacement, redraw the repeats until none is left. The procedure is
    symmetric in the day labels, so each owner's set is uniform among the sets of its size."""
    d = 1 + (rng.random(len(owner)) * span[owner]).astype(np.int64)
    while True:
        o = np.lexsort((d, owner))
        owner, d = owner[o], d[o]
        dup = np.r_[False, (owner[1:] == owner[:-1]) & (d[1:] == d[:-1])]
        if not dup.any():
            return d
        d[dup] = 1 + (rng.random(int(dup.sum())) * span[owner[dup]]).astype(np.int64)


def _purchases(rng, sc: Scale, persons: np.ndarray, joined: np.ndarray, t_end: int):
    """BG/NBD purchase times for a cohort, at day grain: the count of repeat purchases over (first, t_end) is
    Poisson(λT) cut at the J-th (geometric(p)) one, as in BG/NBD, and the purchases fall on distinct calendar days
    after the first purchase's day (uniform among such sets — the day-grain image of a Poisson process's uniform
    times), so "same-day orders count once" loses no purchase of the model.

    Returns (lam, p, nu, dropout_at, order_person, order_time, last_purchase_at per person or NONE)."""
    n = len(persons)
    bg = sc.bgnbd
    lam = rng.gamma(bg.r, 1 / bg.alpha, n)
    p = rng.beta(bg.a, bg.b, n)
    nu = rng.gamma(sc.gg.q, 1 / sc.gg.gamma, n)
    first = joined + (rng.exponential(5.0, n) * DAY).astype(np.int64) + 600
    buyer = (rng.random(n) < sc.buyer_share) & (first < t_end)
    T_w = np.where(buyer, (t_end - first) / WEEK, 0.0)
    first_day = (first + LOCAL) // DAY
    span = np.where(buyer, (t_end + LOCAL) // DAY - 1 - first_day, 0)  # whole days after the first purchase's day
    N = np.minimum(rng.poisson(lam * T_w), np.maximum(span, 0))
    J = rng.geometric(np.clip(p, 1e-9, 1))
    n_rep = np.minimum(N, J)
    owner = np.repeat(np.arange(n), N)
    d = _distinct_days(rng, owner, span)  # sorted by (owner, day)
    start = np.concatenate([[0], np.cumsum(N)[:-1]])
    rank = np.arange(len(owner)) - start[owner]
    keep = rank < n_rep[owner]
    owner, d = owner[keep], d[keep]
    rep_t = (first_day[owner] + d) * DAY - LOCAL + (rng.random(len(owner)) * DAY).astype(np.int64)
    rep_t = np.minimum(rep_t, t_end - 60)
    # dropout happened (within the horizon) at the J-th repeat purchase
    last_t = np.full(n, NONE, dtype=np.int64)
    if len(owner):
        last_pos = np.searchsorted(owner, np.arange(n), "right") - 1
        has_rep = (last_pos >= 0) & (owner[np.clip(last_pos, 0, None)] == np.arange(n))
        last_t[has_rep] = rep_t[last_pos[has_rep]]
    dropout_at = np.where(buyer & (J <= N) & (last_t != NONE), last_t, NONE)
    last_buy = np.where(last_t != NONE, last_t, np.where(buyer, first, NONE))
    all_owner = np.concatenate([np.nonzero(buyer)[0], owner])
    all_t = np.concatenate([first[buyer], rep_t])
    o = np.lexsort((all_t, all_owner))
    return lam, p, nu, dropout_at, persons[all_owner[o]], all_t[o], last_buy


def _away_from_zombies(rng, g: np.ndarray, t: np.ndarray, last_buy: np.ndarray, z_at: np.ndarray, cre: np.ndarray,
                       w_alive: np.ndarray) -> np.ndarray:
    """Keep purchases off zombie groups after their zombie date without cutting any purchase process: a newcomer
    whose last purchase is at or after its chosen group's zombie date swaps groups with a newcomer of the same week
    who never buys and chose a group that stays alive (so zombie groups keep their size); when no such partner is
    left it moves to a group that stays alive (weights w_alive). Either way the group must have been created at least
    an hour before the newcomer's join time t. A newcomer with no such group (possible only in the first hours)
    keeps its group, and the caller cuts its purchases there."""
    out = g.copy()
    bad = np.nonzero((z_at[g] != NONE) & (last_buy != NONE) & (last_buy >= z_at[g]))[0]
    if len(bad) == 0:
        return out
    partners = rng.permutation(np.nonzero((z_at[g] == NONE) & (last_buy == NONE))[0])
    k = min(len(bad), len(partners))
    i, j = bad[:k], partners[:k]
    ok = (t[i] >= cre[g[j]] + 3600) & (t[j] >= cre[g[i]] + 3600)
    i, j = i[ok], j[ok]
    out[i], out[j] = g[j], g[i]
    bad = np.setdiff1d(bad, i)
    cand = np.nonzero(w_alive > 0)[0]
    if len(bad) == 0 or len(cand) == 0:
        return out
    cand = cand[np.argsort(cre[cand], kind="stable")]
    cum = np.cumsum(w_alive[cand])
    k = np.searchsorted(cre[cand] + 3600, t[bad], "right")  # candidates open before the join
    ok = k > 0
    bad, k = bad[ok], k[ok]
    u = rng.random(len(bad)) * cum[k - 1]
    out[bad] = cand[np.minimum(np.searchsorted(cum, u, "right"), k - 1)]
    return out


def build_world(sc: Scale, seed: int, t0: int, progress=None) -> World:
    weeks = sc.weeks
    t_end = t0 + weeks * WEEK
    n_seed, n_mem, n_staff = sc.seed_dacs, sc.members, sc.staff
    n = n_seed + n_mem + n_staff
    rng = stream(seed, 1)

    name = nm.person_names(rng, n)
    nick = nm.nicknames(rng, name)
    nick2 = nm.nicknames(rng, name)
    phone = nm.phones(rng, n)
    wxid = nm.wxids(rng, n)
    ext_userid = nm.wecom_external_ids(rng, n)
    unionid = nm.unionids(rng, n)
    youzan_uid = nm.youzan_uids(rng, n)
    internal = nm.internal_userids(rng, name, phone, np.arange(n))
    staff_idx = np.arange(n_seed + n_mem, n)
    staff_names = np.array(["lin", "zhou", "chen", "wu", "he", "xu", "sun", "ma", "hu", "guo"], dtype=object)
    internal[staff_idx] = nm.join("staff_", staff_names[np.arange(n_staff) % 10],
                                  np.where(np.arange(n_staff) >= 10, (np.arange(n_staff) // 10).astype(str), ""))
    owner_has_phone = rng.random(n) < 0.8
    owner_nick = np.where(owner_has_phone, nm.join(nm.pick(rng, ["【团长】", "团长-", ""], n), name, " ", phone), nick)
    r = rng.random(n)
    remark_phone = r < 0.45
    sur = np.array([s[0] for s in name], dtype=object)
    style = rng.integers(0, 3, n)
    with_phone = np.where(style == 0, nm.join(name, " ", phone),
                          np.where(style == 1, phone, nm.join(sur, "姐-", phone)))
    remark = np.where(remark_phone, with_phone, np.where(r < 0.70, name, ""))
    change = rng.random(n) < 0.05
    nick_change_at = np.where(change, t0 + (rng.random(n) * weeks * WEEK).astype(np.int64), NONE)
    chat_weight = rng.gamma(0.6, 1.0, n)
    referral_prop = rng.gamma(0.35, 1.0, n)
    ambition = rng.random(n) < sc.ambition_share

    joined_at = np.full(n, NONE, dtype=np.int64)
    home_group = np.full(n, NONE, dtype=np.int64)
    scene = np.full(n, NONE, dtype=np.int64)
    inviter = np.full(n, NONE, dtype=np.int64)
    is_dac = np.zeros(n, bool)
    dac_since = np.full(n, NONE, dtype=np.int64)
    promoted_at = np.full(n, NONE, dtype=np.int64)
    lam = np.zeros(n)
    p_drop = np.zeros(n)
    nu = np.zeros(n)
    dropout_at = np.full(n, NONE, dtype=np.int64)

    # ---- groups: seeds open 1–3 groups in week 0 -------------------------------------------------------------
    g_owner: list[np.ndarray] = []
    g_created: list[np.ndarray] = []

    def open_groups(owners: np.ndarray, not_before: np.ndarray, grng, promoted: bool = False) -> None:
        probs = [0.8, 0.2, 0.0] if promoted else [0.5, 0.35, 0.15]
        k = grng.choice([1, 2, 3], size=len(owners), p=probs)
        own = np.repeat(owners, k)
        created = np.repeat(not_before, k) + (grng.random(len(own)) * 2 * DAY).astype(np.int64)
        g_owner.append(own)
        g_created.append(created)

    seeds = np.arange(n_seed)
    open_groups(seeds, np.full(n_seed, t0, dtype=np.int64), stream(seed, 2))
    is_dac[seeds] = True
    first_created = np.minimum.reduceat(g_created[0], np.r_[0, np.cumsum(np.bincount(g_owner[0]))[:-1]])
    dac_since[seeds] = first_created - 3600
    joined_at[seeds] = first_created - 3600
    home_group[seeds] = np.r_[0, np.cumsum(np.bincount(g_owner[0]))[:-1]]
    scene[seeds] = SC_OWNER

    # weekly arrivals grow over time (a brand that is growing)
    w_prof = 1.0 + 2.0 * np.arange(weeks) / max(weeks - 1, 1)
    arrivals = stream(seed, 3).multinomial(n_mem, w_prof / w_prof.sum())

    o_persons: list[np.ndarray] = []
    o_times: list[np.ndarray] = []
    zombie_at_list: list[np.ndarray] = []
    wecom_list: list[np.ndarray] = []
    key_chunks: list[np.ndarray] = []  # person << 32 | (t - t0): sorted because persons arrive in index order
    seed_persons_orders_done = False
    next_person = n_seed
    n_known_groups = 0
    vit = np.zeros((0, weeks))

    def finalize_new_groups(k: int) -> None:
        nonlocal n_known_groups, vit
        own = np.concatenate(g_owner)
        cre = np.concatenate(g_created)
        new = np.arange(n_known_groups, len(own))
        if len(new) == 0:
            return
        grng = stream(seed, 4, k)
        cw = (cre[new] - t0) // WEEK
        remaining = weeks - cw
        zombie = (grng.random(len(new)) < sc.zombie_share) & (remaining >= 10)
        # a seed 大C keeps a living group: when all of a seed's groups drew zombie, its first one stays alive. Zombie
        # groups hold only members who stop buying before the group dies, and a seed (appointed, not promoted by the
        # referees rule) whose only groups died early would fall below every clause of DESIGN's 大C rule while the
        # truth still calls it 大C
        # (its zombie draw passes to another group of the batch whose owner keeps a living one: the share about holds)
        owners, first_pos = np.unique(own[new], return_index=True)
        oi = np.searchsorted(owners, own[new])
        live_any = np.bincount(oi, weights=~zombie, minlength=len(owners)) > 0
        spared = first_pos[~live_any & (owners < n_seed)]
        zombie[spared] = False
        live_n = np.bincount(oi, weights=~zombie, minlength=len(owners))
        cand = np.nonzero(~zombie & (remaining >= 10) & (live_n[oi] >= 2))[0]
        cand = cand[~np.isin(cand, spared)]
        took = grng.choice(cand, size=min(len(spared), len(cand)), replace=False) if len(cand) else cand
        took = took[np.unique(oi[took], return_index=True)[1]]  # one per owner: each keeps a living group
        zombie[took] = True
        zw = np.where(zombie, cw + 6 + (grng.random(len(new)) * np.maximum(remaining - 8, 1)).astype(np.int64), NONE)
        zw = np.where(zw >= weeks - 1, NONE, zw)
        z_at = np.where(zw != NONE, t0 + zw * WEEK + (grng.random(len(new)) * WEEK).astype(np.int64), NONE)
        zombie_at_list.append(z_at)
        wecom_list.append(grng.random(len(new)) < sc.wecom_share)
        vit = np.vstack([vit, _vitality_paths(grng, len(new), weeks, cw, np.where(z_at != NONE, zw, -1))])
        n_known_groups = len(own)

    finalize_new_groups(0)
    for k in range(weeks):
        ws, we = t0 + k * WEEK, t0 + (k + 1) * WEEK
        wrng = stream(seed, 10, k)
        own = np.concatenate(g_owner)
        cre = np.concatenate(g_created)
        z_at = np.concatenate(zombie_at_list)
        G = len(own)
        members_so_far = np.arange(n_seed, next_person)
        counts = np.bincount(home_group[members_so_far], minlength=G) if len(members_so_far) else np.zeros(G)
        open_ok = (cre < we - DAY) & ((z_at == NONE) | (z_at > we + WEEK))
        v = np.nan_to_num(vit[:, k])
        w = np.where(open_ok, (v + 0.05) * np.sqrt(1.0 + counts), 0.0)
        # a group below 20 members recruits at least as well as the typical open group (a new 团长 fills the group
        # first): 20 members is DESIGN's group-size clause for 大C, and the truth calls every group owner 大C
        small = open_ok & (counts < 20)
        if small.any():
            w[small] = np.maximum(w[small], np.median(w[open_ok]))
        nk = int(arrivals[k]) if w.sum() > 0 else 0
        new = np.arange(next_person, next_person + nk)
        if nk:
            g = wrng.choice(G, size=nk, p=w / w.sum())
            lo = np.maximum(ws, cre[g] + 3600)
            t = lo + (wrng.random(nk) * (we - 60 - lo)).astype(np.int64)
            res = _purchases(stream(seed, 20, k), sc, new, t, t_end)
            # A zombie group's members stop buying at its zombie date. Rather than cutting purchase processes (a
            # second dropout BG/NBD does not have), a newcomer whose drawn purchases run past a zombie group's date
            # trades places with one who never buys: the brand's purchases stay exactly BG/NBD, and the zombie
            # groups keep their size with members who stop buying (or never buy) before their death.
            g = _away_from_zombies(wrng, g, t, res[6], z_at, cre, np.where(z_at == NONE, w, 0.0))
            zg = z_at[g[res[4] - next_person]]
            keep = (zg == NONE) | (res[5] < zg)
            res = (*res[:4], res[4][keep], res[5][keep])
            sc_ = wrng.choice([SC_INVITE, SC_QR, SC_LINK, SC_ORGANIC], size=nk, p=[0.45, 0.25, 0.15, 0.15])
            by_owner = wrng.random(nk) < 0.4
            old = members_so_far[joined_at[members_so_far] < ws]
            pick = _weighted_pick_in_group(wrng, home_group[old], old, referral_prop[old], g, G)
            inv = np.where(by_owner | (pick == NONE), own[g], pick)
            inv = np.where(sc_ == SC_ORGANIC, NONE, inv)
            joined_at[new], home_group[new], scene[new], inviter[new] = t, g, sc_, inv
            next_person += nk
            lam[new], p_drop[new], nu[new], dropout_at[new] = res[:4]
            o_persons.append(res[4])
            o_times.append(res[5])
            key_chunks.append((res[4].astype(np.int64) << 32) | (res[5] - t0))
        if not seed_persons_orders_done:
            # the seed 大C buy too (their own group is their home group; never cut by a zombie date)
            seed_persons_orders_done = True
            res = _purchases(stream(seed, 21), sc, seeds, joined_at[seeds], t_end)
            lam[seeds], p_drop[seeds], nu[seeds], dropout_at[seeds] = res[:4]
            o_persons.insert(0, res[4])
            o_times.insert(0, res[5])
            key_chunks.insert(0, (res[4].astype(np.int64) << 32) | (res[5] - t0))
        # ---- promotion check at the end of the week: eligible if the rule held at the end of any day of it ------
        keys = np.concatenate(key_chunks) if key_chunks else np.zeros(0, np.int64)
        joined_members = np.arange(n_seed, next_person)
        ref = inviter[joined_members]
        e_ok = (ref != NONE) & ambition[np.clip(ref, 0, None)] & ~is_dac[np.clip(ref, 0, None)]
        referee = joined_members[e_ok].astype(np.int64) << 32
        referrer = ref[e_ok]
        eligible = np.zeros(n, bool)
        for day_end in ws + DAY * np.arange(1, 8) - 1:
            hi = np.searchsorted(keys, referee | (day_end - t0), "right")
            lo_ = np.searchsorted(keys, referee | max(day_end - sc.promotion_window_days * DAY - t0, 0), "right")
            eligible |= np.bincount(referrer[hi > lo_], minlength=n) >= sc.promotion_min_referees
        promote = np.nonzero(eligible)[0]
        if len(promote) and k < weeks - 1:
            is_dac[promote] = True
            promoted_at[promote] = we - 1
            dac_since[promote] = we - 1
            open_groups(promote, np.full(len(promote), we, dtype=np.int64), stream(seed, 5, k), promoted=True)
            finalize_new_groups(k + 1)
        if progress:
            progress(k + 1, weeks)

    own = np.concatenate(g_owner)
    cre = np.concatenate(g_created)
    z_at = np.concatenate(zombie_at_list)
    g_wecom = np.concatenate(wecom_list)
    G = len(own)
    grng = stream(seed, 6)
    g_key = np.where(g_wecom, nm.wecom_chat_ids(grng, G), nm.chatroom_ids(grng, G))
    g_name = nm.join(nm.pick(grng, nm.GROUP_EMOJI, G), name[own], "的", nm.pick(grng, nm.GROUP_THEMES, G),
                     nm.pick(grng, nm.GROUP_SUFFIX, G), np.where(np.arange(G) % 3 == 0, "", (np.arange(G) % 7 + 1).astype(str)))

    o_person = np.concatenate(o_persons)
    o_time = np.concatenate(o_times)
    # ---- removals: a few members who never buy and never invited anyone ------------------------------------
    rrng = stream(seed, 7)
    members = np.arange(n_seed, next_person)
    has_order = np.zeros(n, bool)
    has_order[o_person] = True
    invited = np.zeros(n, bool)
    invited[inviter[inviter != NONE]] = True
    cand = members[~has_order[members] & ~invited[members] & ~is_dac[members]]
    n_rm = min(len(cand), int(0.02 * len(members)))
    rm = np.sort(rrng.choice(cand, size=n_rm, replace=False)) if n_rm else np.zeros(0, np.int64)
    removed_at = np.full(n, NONE, dtype=np.int64)
    if n_rm:
        rt = joined_at[rm] + ((1 + rrng.random(n_rm) * 7) * WEEK).astype(np.int64)
        removed_at[rm] = np.where(rt < t_end - 3600, rt, NONE)

    # ---- orders: unpaid closed extras, amounts, refunds, sellers --------------------------------------------
    orng = stream(seed, 8)
    n_paid = len(o_person)
    n_unpaid = int(sc.unpaid_share * n_paid)
    up_person = orng.choice(o_person, size=n_unpaid) if n_paid else np.zeros(0, np.int64)
    up_t = o_time[orng.integers(0, max(n_paid, 1), n_unpaid)] if n_paid else np.zeros(0, np.int64)
    up_t = up_t + (orng.random(n_unpaid) * 3 * DAY).astype(np.int64)
    hg = home_group[up_person]
    ok = (up_t < t_end - 600) & ((z_at[hg] == NONE) | (up_t < z_at[hg]) | (own[hg] == up_person))
    up_person, up_t = up_person[ok], up_t[ok]
    person = np.concatenate([o_person, up_person])
    paid_time = np.concatenate([o_time, up_t])
    is_paid = np.r_[np.ones(len(o_person), bool), np.zeros(len(up_person), bool)]
    m = len(person)
    spend = orng.gamma(sc.gg.p, 1.0, m) / np.maximum(nu[person], 1e-9)
    amount = np.maximum(np.round(spend * 100).astype(np.int64), 500)
    created = paid_time - (20 + orng.random(m) * 580).astype(np.int64)
    refund = np.zeros(m, np.int64)
    refund_at = np.full(m, NONE, dtype=np.int64)
    rf = is_paid & (orng.random(m) < sc.refund_share)
    rt = paid_time + (orng.exponential(5.0, m) * DAY).astype(np.int64) + 3600
    rf &= rt < t_end
    full = orng.random(m) < 0.6
    part = np.maximum(np.round(amount * orng.uniform(0.2, 0.8, m)).astype(np.int64), 1)
    refund = np.where(rf, np.where(full, amount, part), 0)
    refund_at = np.where(rf, rt, NONE)
    owner_of_home = own[home_group[person]]
    seller = np.where((orng.random(m) < sc.seller_share) & (owner_of_home != person), owner_of_home, NONE)
    solitaire = (seller != NONE) & (orng.random(m) < 0.55)
    order = np.lexsort((person, created))
    sel = lambda a: a[order]  # noqa: E731

    in_inv = (inviter != NONE) & (stream(seed, 9).random(n) < sc.invite_record_share)

    return World(
        sc=sc, seed=seed, t0=t0, t_end=t_end, weeks=weeks, n=n, n_seed=n_seed, staff_idx=staff_idx,
        name=name, nick=nick, nick2=nick2, nick_change_at=nick_change_at, phone=phone, wxid=wxid,
        ext_userid=ext_userid, unionid=unionid, youzan_uid=youzan_uid, internal_userid=internal,
        owner_nick=owner_nick, remark=remark, remark_phone=remark_phone, joined_at=joined_at,
        home_group=home_group, scene=scene, inviter=inviter, removed_at=removed_at, is_dac=is_dac,
        dac_since=dac_since, promoted_at=promoted_at, chat_weight=chat_weight, lam=lam, p_drop=p_drop, nu=nu,
        dropout_at=dropout_at, in_invite_records=in_inv,
        g_owner=own, g_created=cre, g_zombie_at=z_at, g_wecom=g_wecom, g_key=g_key, g_name=g_name, vitality=vit,
        o_person=sel(person), o_paid_at=sel(np.where(is_paid, paid_time, NONE)), o_created_at=sel(created),
        o_is_paid=sel(is_paid), o_amount=sel(np.where(is_paid, amount, 0)), o_receivable=sel(amount),
        o_refund=sel(refund), o_refund_at=sel(refund_at), o_seller=sel(seller), o_solitaire=sel(solitaire),
    )
