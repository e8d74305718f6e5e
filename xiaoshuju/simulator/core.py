"""simulate(): build the world, write the weekly export batches into the inbox and the ground truth aside."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from xiaoshuju.simulator import exports as X
from xiaoshuju.simulator import names as nm
from xiaoshuju.simulator.chat import ROLE_MEMBER, ROLE_OWNER, week_messages
from xiaoshuju.simulator.config import DEFAULT_END, calendar, make_scale
from xiaoshuju.simulator.world import NONE, SCENES, WEEK, World, build_world, stream


@dataclass
class SimResult:
    scale: str
    seed: int
    out_dir: Path
    truth_dir: Path
    week_starts: list[date]
    files: list[str] = field(default_factory=list)  # written files, relative to out_dir
    counts: dict = field(default_factory=dict)


def _week_index(week, week_starts: list[date]) -> int:
    if week is None:
        return len(week_starts) - 1
    if isinstance(week, int):
        return week
    d = date.fromisoformat(week) if isinstance(week, str) else week
    return max(i for i, s in enumerate(week_starts) if s <= d)


def simulate(scale: str = "S", seed: int = 7, out_dir: str | Path | None = None, truth_dir: str | Path | None = None,
             weeks: int | None = None, defect_rate: float = 0.002, through_week=None, from_week=None,
             end: date | str = DEFAULT_END, members: int | None = None, groups: int | None = None,
             progress: Callable[[str, int, int], None] | None = None, **scale_overrides) -> SimResult:
    """Write a simulated brand's exports (weekly batches ``inbox/<Monday>/...``) and its ground truth.

    ``from_week``/``through_week`` (0-based week index, a date, or ISO date string) select which batches are
    written; the bytes of a batch never depend on them. The truth always describes the whole run."""
    if out_dir is None or truth_dir is None:
        from xiaoshuju.settings import load_settings

        s = load_settings()
        out_dir = out_dir or s.inbox
        truth_dir = truth_dir or s.ground_truth
    out_dir, truth_dir = Path(out_dir), Path(truth_dir)
    end = date.fromisoformat(end) if isinstance(end, str) else end
    sc = make_scale(scale, weeks, members, groups)
    if scale_overrides:
        from dataclasses import replace

        sc = replace(sc, **scale_overrides)
    start, week_starts, t0 = calendar(end, sc.weeks)
    lo, hi = _week_index(from_week or 0, week_starts), _week_index(through_week, week_starts)
    prog = progress or (lambda stage, i, n: None)

    w = build_world(sc, seed, t0, progress=lambda i, n: prog("world", i, n))
    shop_id = str(10_000_000 + int(stream(seed, 80).integers(0, 89_999_999)))
    ob = X.OrderBook(w, "示例品牌官方商城")
    sink = X.Sink(out_dir, write=False, rate=defect_rate)
    drng = stream(seed, 70)
    n_each = 1 + int(defect_rate * sc.weeks) if defect_rate > 0 else 0
    pick_weeks = lambda: set(drng.choice(np.arange(2, sc.weeks), size=min(n_each, sc.weeks - 2), replace=False).tolist())  # noqa: E731
    sink.dup_weeks, sink.trunc_weeks, sink.enc_weeks = pick_weeks(), pick_weeks(), pick_weeks()

    # customers: first paid order, or the invite-record registration if earlier
    first_paid = np.full(w.n, np.iinfo(np.int64).max)
    paid = w.o_is_paid
    np.minimum.at(first_paid, w.o_person[paid], w.o_paid_at[paid])
    inv_t = np.where(w.in_invite_records, w.joined_at, np.iinfo(np.int64).max)
    customer_since = np.minimum(first_paid, inv_t)
    via_invite = inv_t < first_paid
    customer_since = np.where(customer_since == np.iinfo(np.int64).max, NONE, customer_since)

    counter = np.zeros(1, np.int64)
    local_ids = np.zeros(w.n_groups, np.int64)
    pending_liuhen: list[pl.DataFrame] = []
    last_snapshot = np.full(w.n_groups, NONE, dtype=np.int64)
    liuhen_senders: list[np.ndarray] = []
    wecom_senders: list[np.ndarray] = []
    snap_members: list[np.ndarray] = []
    n_messages = 0
    written_from = 0
    for k in range(sc.weeks):
        batch = week_starts[k].isoformat()
        sink.write = lo <= k <= hi
        mark = len(sink.files)
        we = t0 + (k + 1) * WEEK
        gb = stream(seed, 60, k).random(2) < 0.125
        X.write_orders(sink, w, ob, k, batch, bool(gb[0]))
        X.write_customers(sink, w, ob, k, batch, shop_id, customer_since, via_invite)
        X.write_invites(sink, w, ob, k, batch, bool(gb[1]))
        msgs = week_messages(w, k, counter)
        n_messages += msgs.height
        is_wecom = w.g_wecom[msgs["group"].to_numpy()]
        lh = msgs.filter(pl.Series(~is_wecom))
        wc = msgs.filter(pl.Series(is_wecom))
        speak = lambda m: m.filter(pl.col("role").is_in([ROLE_MEMBER, ROLE_OWNER]) & ~pl.col("recalled"))["sender"].unique().to_numpy()  # noqa: E731
        liuhen_senders.append(speak(lh))
        wecom_senders.append(wc.filter(pl.col("role") != 3)["sender"].unique().to_numpy())
        pending_liuhen.append(X.liuhen_rows(w, lh))
        X.write_wecom_archive(sink, w, X.wecom_lines(w, wc), batch, k)
        if (k + 1) % sc.liuhen_period == 0 or k == sc.weeks - 1:
            X.write_liuhen(sink, w, pl.concat(pending_liuhen).sort(["group", "t", "seq"]), batch, k, local_ids)
            pending_liuhen = []
            E = we
            changed = np.zeros(w.n_groups, bool)
            for ev in (w.joined_at, w.removed_at):
                m = (ev != NONE) & (w.home_group != NONE)
                hgm = w.home_group[m]
                evm = ev[m]
                hit = (evm < E) & (evm >= np.where(last_snapshot[hgm] == NONE, 0, last_snapshot[hgm]))
                changed[hgm[hit]] = True
            snap = np.nonzero(w.g_wecom & (w.g_created < E) & (changed | (last_snapshot == NONE)))[0]
            X.write_group_details(sink, w, snap, E, batch)
            last_snapshot[snap] = E
            persons = np.arange(w.n_seed, w.n)
            snap_members.append(persons[np.isin(w.home_group[persons], snap) & (w.joined_at[persons] != NONE)
                                        & (w.joined_at[persons] < E)])
        if k == lo:
            written_from = mark
        prog("exports", k + 1, sc.weeks)

    written = [f for i, f in enumerate(sink.files) if i >= written_from and lo <= _batch_k(f, week_starts) <= hi]
    truth_dir.mkdir(parents=True, exist_ok=True)
    counts = _write_truth(w, sink, truth_dir, week_starts, customer_since, ob,
                          np.unique(np.concatenate(liuhen_senders)), np.unique(np.concatenate(wecom_senders)),
                          np.unique(np.concatenate(snap_members)) if snap_members else np.zeros(0, np.int64),
                          dict(scale=sc.name, seed=seed, start=start.isoformat(), end=end.isoformat(), weeks=sc.weeks,
                               defect_rate=defect_rate, shop_id=shop_id, n_messages=n_messages))
    return SimResult(sc.name, seed, out_dir, truth_dir, week_starts, written, counts)


def _batch_k(rel: str, week_starts: list[date]) -> int:
    d = date.fromisoformat(rel.split("/", 1)[0])
    return (d - week_starts[0]).days // 7


def _ts(a: np.ndarray) -> pl.Series:
    s = pl.Series(a).cast(pl.Int64)
    return pl.select(pl.when(s == NONE).then(None).otherwise(pl.from_epoch(s, "s")).dt.replace_time_zone("UTC")).to_series()


def _opt(w: World, a: np.ndarray, attr: str) -> pl.Series:
    """String attribute at index (null for NONE)."""
    v = w.take(attr, a)
    return pl.select(pl.when(pl.lit(pl.Series(np.asarray(a) == NONE))).then(None).otherwise(pl.lit(v))).to_series()


def _opt_str(null: np.ndarray, v: pl.Series) -> pl.Series:
    return pl.select(pl.when(pl.lit(pl.Series(null))).then(None).otherwise(pl.lit(v)).alias("s")).to_series()


def _pid(a: np.ndarray) -> pl.Series:
    """Person numbers → 'p0000123' (null for NONE)."""
    s = pl.Series(np.asarray(a, dtype=np.int64))
    return pl.select(pl.when(s == NONE).then(None).otherwise(pl.concat_str([pl.lit("p"), s.cast(pl.String).str.zfill(7)]))
                     .alias("pid")).to_series()


def _identity_links(w: World, ob: X.OrderBook, customer_since: np.ndarray, liuhen_senders: np.ndarray,
                    wecom_senders: np.ndarray, snap_members: np.ndarray) -> pl.DataFrame:
    n = w.n
    PH, WX, EXT, UN, UID, INT = range(6)
    rows: list[tuple[str, str, np.ndarray, int]] = []  # (source_format, id_type, persons, node type)
    edges: list[tuple[np.ndarray, int, int]] = []  # (persons, node type a, node type b)
    unmasked = ~ob.masked
    buyers = np.unique(w.o_person[unmasked])
    sellers = np.unique(w.o_seller[w.o_seller != NONE])
    rows += [("youzan_orders", "phone", np.union1d(buyers, sellers), PH), ("youzan_order_lines", "phone", sellers, PH),
             ("youzan_customers", "phone", np.nonzero(customer_since != NONE)[0], PH)]
    inv = np.nonzero(w.in_invite_records)[0]
    inv_people = np.union1d(inv, w.inviter[inv])
    rows += [("invite_records", "phone", inv_people, PH), ("invite_records", "platform_buyer", inv_people, UID)]
    edges.append((inv_people, UID, PH))
    is_owner_sender = w.is_dac[liuhen_senders]
    rows.append(("wechatmsg_chat", "wxid", liuhen_senders, WX))
    owner_phone = w.owner_nick[liuhen_senders] != w.nick[liuhen_senders]
    # a 大C's rows in their own group carry owner_nick; as a member elsewhere, the remark
    has_ph = np.where(is_owner_sender, owner_phone, w.remark_phone[liuhen_senders])
    rows.append(("wechatmsg_chat", "phone", liuhen_senders[has_ph], PH))
    edges.append((liuhen_senders[has_ph], WX, PH))
    members_w = wecom_senders[~w.is_dac[wecom_senders] | ~np.isin(wecom_senders, w.g_owner)]
    rows.append(("wecom_archive", "wecom_external", np.setdiff1d(wecom_senders, np.r_[w.g_owner, w.staff_idx]), EXT))
    internal_senders = np.intersect1d(wecom_senders, np.r_[w.g_owner[w.g_wecom], w.staff_idx])
    rows.append(("wecom_archive", "wecom_internal", internal_senders, INT))
    snap = np.setdiff1d(snap_members, w.staff_idx)
    rows += [("wecom_group_detail", "wecom_external", snap, EXT), ("wecom_group_detail", "unionid", snap, UN)]
    edges.append((snap, EXT, UN))
    mob = snap[w.remark_phone[snap]]
    rows.append(("wecom_group_detail", "phone", mob, PH))
    edges.append((mob, EXT, PH))
    wecom_owners = np.unique(w.g_owner[w.g_wecom])
    internal_people = np.r_[wecom_owners, w.staff_idx]
    rows.append(("wecom_group_detail", "wecom_internal", internal_people, INT))
    num = wecom_owners[w.internal_userid[wecom_owners] == w.phone[wecom_owners]]
    rows.append(("wecom_group_detail", "phone", num, PH))
    edges.append((num, INT, PH))
    del members_w
    # components over person×node-type
    a = np.concatenate([p * 6 + ta for p, ta, _ in edges])
    b = np.concatenate([p * 6 + tb for p, _, tb in edges])
    g = coo_matrix((np.ones(len(a)), (a, b)), shape=(6 * n, 6 * n))
    _, label = connected_components(g, directed=False)
    phone_present = np.zeros(n, bool)
    for _fmt, _typ, p, t in rows:
        if t == PH:
            phone_present[p] = True
    node_type_min = np.full(label.max() + 1, 9)
    np.minimum.at(node_type_min, label, np.tile(np.arange(6), n))
    values = {PH: "phone", WX: "wxid", EXT: "ext_userid", UN: "unionid", UID: "youzan_uid", INT: "internal_userid"}
    frames = []
    for fmt, typ, p, t in rows:
        lab = label[p * 6 + t]
        rec = phone_present[p] & (lab == label[p * 6 + PH])
        comp = np.where(rec, 0, node_type_min[lab] + 1)
        frames.append(pl.DataFrame({"source_format": fmt, "id_type": typ, "value": w.take(values[t], p),
                                    "person_id": p.astype(np.int64), "recoverable": rec, "component": comp.astype(np.int32)},
                                   schema_overrides={"source_format": pl.String, "id_type": pl.String}))
    masked = np.nonzero(ob.masked)[0]
    mp = w.o_person[masked]
    frames.append(pl.DataFrame({"source_format": "youzan_orders", "id_type": "phone_masked",
                                "value": w.take("phone", mp).str.slice(0, 3) + "****" + w.take("phone", mp).str.slice(-4),
                                "person_id": mp.astype(np.int64), "recoverable": np.zeros(len(mp), bool),
                                "component": np.full(len(mp), -1, np.int32)}).unique(maintain_order=True))
    return pl.concat(frames)


def _write_truth(w: World, sink: X.Sink, truth_dir: Path, week_starts, customer_since, ob, liuhen_senders,
                 wecom_senders, snap_members, meta: dict) -> dict:
    pid = _pid

    def put(name: str, df: pl.DataFrame) -> int:  # write at once and drop: keeps the peak memory at L low
        df.write_parquet(truth_dir / f"{name}.parquet", statistics=False)
        return df.height
    n = w.n
    idx = np.arange(n)
    is_staff = np.isin(idx, w.staff_idx)
    persons = pl.DataFrame({
        "person_id": pid(idx), "name": w.pool("name")[:-1], "nickname": w.pool("nick")[:-1],
        "nickname_changed_to": w.take("nick2", np.where(w.nick_change_at != NONE, idx, NONE)),
        "nickname_changed_at": _ts(w.nick_change_at), "phone": w.pool("phone")[:-1], "wxid": w.pool("wxid")[:-1],
        "wecom_userid": nm.where(w.is_dac | is_staff, w.pool("internal_userid")[:-1], w.pool("ext_userid")[:-1]),
        "unionid": w.pool("unionid")[:-1], "youzan_uid": w.pool("youzan_uid")[:-1], "is_staff": is_staff,
        "is_dac": w.is_dac, "dac_since": _ts(w.dac_since), "promoted_at": _ts(w.promoted_at),
        "home_group": _opt(w, w.home_group, "g_key"), "joined_at": _ts(w.joined_at), "customer_since": _ts(customer_since),
        "lam": w.lam, "p_drop": w.p_drop, "nu": w.nu, "dropout_at": _ts(w.dropout_at),
    })
    put("persons", persons)
    del persons
    G = w.n_groups
    groups = pl.DataFrame({
        "group_key": w.pool("g_key")[:-1], "source_format": nm.where(w.g_wecom, "wecom_group_detail", "wechatmsg_chat"),
        "name": w.pool("g_name")[:-1], "owner_person": pid(w.g_owner), "created_at": _ts(w.g_created),
        "is_zombie": w.g_zombie_at != NONE, "zombie_at": _ts(w.g_zombie_at),
    })
    put("groups", groups)
    del groups
    members_mask = (w.home_group != NONE) & ~is_staff
    mem_ = idx[members_mask]
    counts_wk = np.zeros((G, w.weeks), np.int64)
    for k in range(w.weeks):
        we = w.t0 + (k + 1) * WEEK
        cur = mem_[(w.joined_at[mem_] < we) & ((w.removed_at[mem_] == NONE) | (w.removed_at[mem_] >= we))]
        counts_wk[:, k] = np.bincount(w.home_group[cur], minlength=G)
    gi, ki = np.nonzero(~np.isnan(w.vitality))
    vit = pl.DataFrame({"group_key": w.take("g_key", gi), "week_start": pl.Series(week_starts).gather(ki),
                        "vitality": w.vitality[gi, ki], "members": counts_wk[gi, ki]})
    put("group_vitality_weekly", vit)
    del vit
    memberships = pl.DataFrame({
        "group_key": w.take("g_key", w.home_group[mem_]), "person_id": pid(mem_), "joined_at": _ts(w.joined_at[mem_]),
        "scene": nm.choose(w.scene[mem_], SCENES), "inviter_person": pid(w.inviter[mem_]),
        "removed_at": _ts(w.removed_at[mem_])})
    put("memberships", memberships)
    del memberships
    r = idx[(w.inviter != NONE) & members_mask]
    wecom_r = w.g_wecom[w.home_group[r]]
    channel = nm.where(wecom_r, "wecom_invitor", nm.choose(w.scene[r], ["", "chat_invite", "chat_qr", "chat_link", ""]))
    referrals = pl.DataFrame({"referrer": pid(w.inviter[r]), "referee": pid(r), "at": _ts(w.joined_at[r]),
                              "channel": channel, "group_key": w.take("g_key", w.home_group[r]),
                              "in_invite_records": w.in_invite_records[r]})
    n_referrals = put("referrals", referrals)
    del referrals
    hg = w.home_group[w.o_person]
    orders = pl.DataFrame({
        "order_no": ob.order_no, "person_id": pid(w.o_person), "created_at": _ts(w.o_created_at),
        "paid_at": _ts(w.o_paid_at), "is_paid": w.o_is_paid, "amount": w.o_amount / 100, "receivable": w.o_receivable / 100,
        "refund": w.o_refund / 100, "refund_at": _ts(w.o_refund_at),
        "refund_kind": _opt_str(w.o_refund_at == NONE, nm.where(w.o_refund == w.o_amount, "full", "partial")),
        "group_key": w.take("g_key", hg), "seller_person": pid(w.o_seller), "is_solitaire": w.o_solitaire,
        "n_lines": ob.n_lines})
    put("orders", orders)
    del orders
    ident = _identity_links(w, ob, customer_since, liuhen_senders, wecom_senders, snap_members)
    ident = ident.with_columns(pl.format("p{}", pl.col("person_id").cast(pl.String).str.zfill(7)).alias("person_id"))
    defects = pl.DataFrame(sink.defects or None, schema={"file": pl.String, "line": pl.Int64, "kind": pl.String,
                                                          "expected_reason_code": pl.String, "note": pl.String})
    files = pl.DataFrame({"file": sink.files, "format": sink.formats, "rows": sink.rows,
                          "batch": [f.split("/", 1)[0] for f in sink.files]})
    put("identity_links", ident)
    del ident
    put("defects", defects)
    put("files", files)
    sc = w.sc
    counts = {"persons": int(n), "members": int(members_mask.sum()), "dacs": int(w.is_dac.sum()),
              "promoted": int((w.promoted_at != NONE).sum()), "groups": int(G),
              "zombie_groups": int((w.g_zombie_at != NONE).sum()), "wecom_groups": int(w.g_wecom.sum()),
              "orders": int(len(w.o_person)), "paid_orders": int(w.o_is_paid.sum()),
              "referrals": int(n_referrals), "messages": int(meta.pop("n_messages")),
              "files": len(sink.files), "defects": int(defects.height)}
    truth = {**meta, "bgnbd": {"r": sc.bgnbd.r, "alpha": sc.bgnbd.alpha, "a": sc.bgnbd.a, "b": sc.bgnbd.b,
                               "time_unit": "week"},
             "gamma_gamma": {"p": sc.gg.p, "q": sc.gg.q, "gamma": sc.gg.gamma, "unit": "yuan"},
             "promotion_rule": {"min_referees_with_paid_order": sc.promotion_min_referees,
                                "window_days": sc.promotion_window_days, "ambition_share": sc.ambition_share},
             "counts": counts, "batches": [d.isoformat() for d in week_starts]}
    (truth_dir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=True))
    return counts


def clear(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
