"""Generated (never real) names, nicknames, phones and platform ids, vectorised."""

from __future__ import annotations

import numpy as np
import polars as pl

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲红梅兰凤云飞燕晶鑫慧雪琳颖婷倩悦欣怡佳宇浩然子涵一诺梓")
NICK_CORE = [
    "小美", "快乐每一天", "Lily", "阳光", "向日葵", "静待花开", "幸福人生", "开心果", "云淡风轻", "平安是福",
    "晴天", "Amy", "Coco", "柠檬", "木子", "花开富贵", "简单", "知足常乐", "月亮", "小鱼儿", "岁月静好", "Grace",
    "Sunny", "一米阳光", "宝妈", "微笑", "暖暖", "安然", "随缘", "悠悠", "糖糖", "果果", "芒果", "Vivian", "蓝天",
]
NICK_SUFFIX = ["", "", "", "", "🌸", "🍀", "🌹", "😊", "🌈", "💕", "🍓", "✨", "🌻", "🐱", "❤️"]
NICK_PREFIX = ["", "", "", "", "", "A", "🌸", "Z", "~"]
EMOJI = ["👍", "😊", "🌹", "💪", "🙏", "❤️", "😄", "🎉"]
PHONE_PREFIX = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 156, 157, 158, 159, 166,
                         171, 173, 176, 177, 178, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 193, 198, 199])
_LOWER_DIGITS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_PINYIN = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "zhu"]


def zfill(a, width: int) -> np.ndarray:
    """Zero-padded decimal strings (object array); safe for empty input."""
    a = np.asarray(a)
    if a.size == 0:
        return np.zeros(0, dtype=object)
    return np.char.zfill(a.astype(str), width).astype(object)


def pick(rng: np.random.Generator, pool, n: int) -> np.ndarray:
    return np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]


def random_strings(rng: np.random.Generator, n: int, length: int, alphabet: np.ndarray) -> np.ndarray:
    codes = alphabet[rng.integers(0, len(alphabet), (n, length))]
    return np.ascontiguousarray(codes).view(f"S{length}").ravel().astype(str).astype(object)


def to_pl(a) -> pl.Series:
    """Any 1-d array (numbers, numpy str, object of str) → polars String series, without numpy astype(str)."""
    if isinstance(a, pl.Series):
        return a.cast(pl.String)
    a = np.asarray(a)
    if a.dtype.kind in "iub":
        return pl.Series(a).cast(pl.String)
    if a.dtype.kind == "f":
        return pl.Series(a).cast(pl.String)
    return pl.Series(a.astype(object) if a.dtype.kind == "U" else a, dtype=pl.String, strict=False)


def join(*parts) -> np.ndarray:
    """Element-wise string concatenation of arrays and scalars (object array out), via polars for speed."""
    n = max((len(p) for p in parts if not isinstance(p, str)), default=None)
    if n is None:
        return np.asarray("".join(parts), dtype=object)
    if n == 0:
        return np.zeros(0, dtype=object)
    exprs = [pl.lit(p) if isinstance(p, str) else to_pl(p) for p in parts]
    return pl.select(pl.concat_str(exprs)).to_series().to_numpy().astype(object)


def lit(p) -> pl.Expr:
    """A literal string, or a column (polars Series / numpy array) as a String expression."""
    return pl.lit(p, dtype=pl.String) if isinstance(p, str) else pl.lit(to_pl(p))


def cat(*parts) -> pl.Series:
    """Element-wise string concatenation into a polars String Series (at least one part must be an array)."""
    return pl.select(pl.concat_str([lit(p) for p in parts]).alias("s")).to_series()


def where(mask, a, b) -> pl.Series:
    """mask ? a : b element-wise, a/b literal strings or arrays/Series of the mask's length → String Series."""
    m = np.asarray(mask, dtype=bool)
    if isinstance(a, str) and isinstance(b, str):
        return pl.Series("s", [b, a], dtype=pl.String).gather(m.astype(np.int64))
    return pl.select(pl.when(pl.lit(pl.Series(m))).then(lit(a)).otherwise(lit(b)).alias("s")).to_series()


def choose(codes, pool) -> pl.Series:
    """pool[codes] as a String Series."""
    return pl.Series("s", list(pool), dtype=pl.String).gather(np.asarray(codes, dtype=np.int64))


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique 11-digit numbers 1[3-9]x + 8 random digits (unique suffixes, so unique phones)."""
    suffix = rng.choice(100_000_000, size=n, replace=False)
    prefix = PHONE_PREFIX[rng.integers(0, len(PHONE_PREFIX), n)]
    return (prefix.astype(np.int64) * 100_000_000 + suffix).astype(str).astype(object)


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    two = rng.random(n) < 0.6
    return np.where(two, join(pick(rng, SURNAMES, n), pick(rng, GIVEN, n)),
                    join(pick(rng, SURNAMES, n), pick(rng, GIVEN, n), pick(rng, GIVEN, n)))


def nicknames(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    n = len(names)
    core = pick(rng, NICK_CORE, n)
    style = rng.random(n)
    sur = np.array([s[0] for s in names], dtype=object)
    by_name = join(sur, pick(rng, ["姐", "哥", "阿姨", "妈妈", "老师", ""], n))
    base = np.where(style < 0.25, by_name, np.where(style < 0.35, names, core))
    return join(pick(rng, NICK_PREFIX, n), base, pick(rng, NICK_SUFFIX, n))


def wxids(rng: np.random.Generator, n: int) -> np.ndarray:
    std = join("wxid_", random_strings(rng, n, 14, _LOWER_DIGITS))
    custom = join(pick(rng, _PINYIN, n), pick(rng, ["", "_", "-"], n),
                  rng.integers(1000, 99999, n).astype(str).astype(object))
    return np.where(rng.random(n) < 0.15, custom, std)


def wecom_external_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    return join(np.where(rng.random(n) < 0.8, "wm", "wo"), random_strings(rng, n, 30, _ALNUM))


def unionids(rng: np.random.Generator, n: int) -> np.ndarray:
    return join("o", random_strings(rng, n, 27, _ALNUM))


def youzan_uids(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.choice(9_000_000_000, size=n, replace=False) + 1_000_000_000).astype(str).astype(object)


def chatroom_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    return join((rng.choice(90_000_000_000, size=n, replace=False) + 10_000_000_000).astype(str).astype(object),
                "@chatroom")


def wecom_chat_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    return join("wr", random_strings(rng, n, 30, _ALNUM))


def internal_userids(rng: np.random.Generator, names_arr: np.ndarray, phones_arr: np.ndarray,
                     idx: np.ndarray) -> np.ndarray:
    """大C internal WeCom userids: the mobile number for 70 %, else pinyin-like ``wang_0012``."""
    n = len(phones_arr)
    pinyin = join(pick(rng, _PINYIN, n), "_", zfill(idx, 4))
    return np.where(rng.random(n) < 0.7, phones_arr, pinyin)


GROUP_THEMES = ["水果", "生鲜", "母婴", "美妆", "零食", "家居", "农产品", "烘焙", "茶叶", "健康", "宠物", "童装"]
GROUP_SUFFIX = ["团购群", "福利群", "好物分享", "社区团", "邻里团", "VIP群", "粉丝群"]
GROUP_EMOJI = ["", "", "🍓", "🌸", "🎁", "🏠", "⭐"]

PRODUCTS = [
    "有机小番茄 500g", "阳光玫瑰葡萄 1kg", "赣南脐橙 5斤", "手工水饺 1kg", "土鸡蛋 30枚", "五常大米 5kg",
    "纯牛奶 24盒", "冷冻虾仁 500g", "云南小粒咖啡", "坚果礼盒", "洗衣凝珠 52颗", "抽纸 24包", "婴儿湿巾 80抽",
    "蓝莓 4盒", "牛排套餐", "车厘子 2斤", "黑猪肉饺子", "酸奶 12杯", "面膜 10片", "洗发水 500ml", "龙井茶 250g",
    "红薯 5斤", "榴莲千层", "猫砂 10kg", "儿童袜 5双", "山茶油 1L", "橄榄油 750ml", "燕麦片 1kg", "牛肉干 200g",
    "芒果 5斤",
]
PROVINCES = [("广东省", "深圳市", "南山区"), ("浙江省", "杭州市", "西湖区"), ("上海市", "上海市", "浦东新区"),
             ("北京市", "北京市", "朝阳区"), ("江苏省", "南京市", "鼓楼区"), ("四川省", "成都市", "武侯区"),
             ("湖北省", "武汉市", "洪山区"), ("福建省", "厦门市", "思明区")]
STREETS = ["幸福路", "人民路", "建设路", "解放路", "中山路", "和平街", "文化路", "新华路"]

MEMBER_TEXT = ["收到", "好的", "谢谢团长", "已接龙", "+1", "已下单", "好吃", "赞", "昨天的到了，很新鲜", "孩子很喜欢",
               "早上好", "辛苦了", "今天也是元气满满", "支持", "回购了", "物流好快", "质量不错", "好的谢谢", "哈哈哈",
               "我也要", "明天见", "包装很好"]
MEMBER_QUESTION = ["什么时候发货？", "还有货吗", "多少钱一斤？", "可以自提吗", "有没有优惠？", "今天几点截单？",
                   "能送到小区吗", "保质期多久？", "怎么退货？", "这个适合小孩吃吗", "多少钱", "有没有大份的？"]
OWNER_TEXT = ["今晚八点开团，大家准备好", "新品上架，欢迎咨询", "今日团购已截单，明天统一发货", "感谢大家支持",
              "提货点今天下午三点开放", "周末福利来啦", "有问题随时私聊我", "已发货的亲注意查收",
              "本周特价水果，数量有限", "早上好各位邻居"]
OWNER_REPLY = ["明天发货", "有的", "可以的", "已经私聊你了", "今晚截单", "可以自提", "保质期三个月", "亲，可以的"]
SOLITAIRE = ["#接龙 周五水果团 截止今晚8点", "#接龙 生鲜团购 明天送达", "#接龙 本周爆款 限量50份", "#接龙 土鸡蛋团"]
WEAPP = ["周末团购", "限时秒杀", "新人专享", "会员日特惠"]
LINKS = ["夏季养生小知识", "新品测评", "如何挑选水果", "本周团购清单"]
