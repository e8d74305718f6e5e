"""Exact export headers (mirrors /work/shared/formats) and small string helpers."""

from __future__ import annotations

import numpy as np
import polars as pl

YOUZAN_ORDERS = (
    "订单号,销售渠道,归属店铺,订单类型,订单状态,推广方式,订单来源,订单创建时间,买家付款时间,交易成功时间,付款方式,支付流水号,"
    "商品金额合计,运费,店铺优惠合计,应收订单金额,订单实付金额,支付优惠合计,订单实收金额,订单抵用积分数,店铺优惠方式,支付优惠方式,"
    "全部商品名称,商品种类数,订单配送方式,同城送达时间/提货时间,收货人省份,收货人城市,收货人地区,详细收货地址/提货地址,收货人/提货人,"
    "收货人手机号/提货人手机号,买家备注,订单星级,买家昵称,买家是否会员,买家手机号,下单网点,收银员,分销员,销售导购,专属导购,订单退款状态,"
    "订单已退款金额,商家订单备注,桌号,挂账主体,挂账手机号,团长订单,订单风险标签,分销员,分销员手机号,分销员所属店铺,分销员所属团队,"
    "分销员所属分组,分销员等级,订单佣金类型,订单佣金金额,订单下级卖货提成类型,订单下级卖货提成金额"
).split(",")
YOUZAN_LINES = (
    "订单号,商品品牌,订单商品状态,商品名称,商品类型,商品类目,商品一级分类,商品二级分类,商品三级分类,商品四级分类,销售渠道,商品规格,"
    "规格编码,商品编码,规格条码,商品条码,商品单价,商品优惠方式,商品优惠后价格,商品数量,商品单位,商品金额小计,店铺优惠（分摊）,"
    "商品实际成交金额,商品抵用积分数,商品留言,商品发货状态,商品发货方式,商品发货物流公司,商品快递单号,发货员工,商品发货时间,商品退款状态,"
    "商品已退款金额,买家收货信息,分销员,分销员手机号,分销员所属店铺,分销员所属团队,分销员所属分组,分销员等级,订单佣金类型,订单佣金金额,"
    "订单下级卖货提成类型,订单下级卖货提成金额,商品佣金类型,商品佣金金额,商品下级卖货提成类型,商品下级卖货提成金额"
).split(",")
YOUZAN_CUSTOMERS = (
    "客户姓名,客户昵称,客户手机号,客户生日,客户性别,标签,是否会员,成长值,免费等级,付费等级,权益卡,客户积分,客户储值余额,消费次数,"
    "消费金额,累计退款金额,累计退款订单数,笔单价,上次消费时间,分销员,导购员,企微好友,来源渠道,来源方式,成为客户时间,成为会员时间,"
    "成为会员店铺,公众号,公众号关注时间,最近浏览时间,微信地域,所属区域,指定时间消费次数,指定时间消费金额"
).split(",")  # written with a trailing comma (35th empty field)
INVITES = "邀请人ID,邀请人昵称,邀请人手机号,被邀请人ID,被邀请人昵称,被邀请人手机号,邀请时间,被邀请人订单数,来源".split(",")
LIUHEN = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender".split(",")


def local_str(t: np.ndarray | pl.Series) -> pl.Series:
    """Unix seconds → 'YYYY-MM-DD HH:MM:SS' Asia/Shanghai (fixed +08:00, no DST); -1 → ''."""
    s = pl.Series(t).cast(pl.Int64)
    out = (pl.from_epoch(s + 8 * 3600, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))
    return pl.select(pl.when(s < 0).then(pl.lit("")).otherwise(out)).to_series()


def yuan(fen: np.ndarray) -> pl.Series:
    """Fen → '89.90'."""
    f = pl.Series(np.asarray(fen, dtype=np.int64))
    a = f.abs()
    return pl.select(pl.concat_str([pl.when(f < 0).then(pl.lit("-")).otherwise(pl.lit("")), (a // 100).cast(pl.String),
                                    pl.lit("."), (a % 100).cast(pl.String).str.zfill(2)])).to_series()


def yuan_expr(e: pl.Expr) -> pl.Expr:
    a = e.abs()
    return pl.concat_str([pl.when(e < 0).then(pl.lit("-")).otherwise(pl.lit("")), (a // 100).cast(pl.String),
                          pl.lit("."), (a % 100).cast(pl.String).str.zfill(2)])


def local_expr(e: pl.Expr) -> pl.Expr:
    out = pl.from_epoch(e + 8 * 3600, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    return pl.when(e < 0).then(pl.lit("")).otherwise(out)


def strings(yuan: dict | None = None, local: dict | None = None) -> dict[str, pl.Series]:
    """Many fen → '89.90' and epoch → Shanghai-time conversions in one polars pass: {name: String Series}."""
    yuan, local = yuan or {}, local or {}
    cols = {f"y{k}": np.asarray(v, dtype=np.int64) for k, v in yuan.items()}
    cols |= {f"t{k}": np.asarray(v, dtype=np.int64) for k, v in local.items()}
    df = pl.DataFrame(cols).select([yuan_expr(pl.col(f"y{k}")).alias(str(k)) for k in yuan]
                                   + [local_expr(pl.col(f"t{k}")).alias(str(k)) for k in local])
    return {c: df[c] for c in df.columns}
