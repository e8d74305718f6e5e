"""Find a CJK font to embed (Debian/Ubuntu package fonts-noto-cjk; override with XIAOSHUJU_CJK_FONT)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


class NoCjkFontError(RuntimeError):
    """No Chinese font is installed, so the PDF could not show Chinese text."""


@dataclass(frozen=True)
class CjkFont:
    regular: Path
    regular_index: int
    bold: Path
    bold_index: int


_KNOWN = [
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    ),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
]


def _fc_match(style: str) -> tuple[Path, int] | None:
    """fontconfig's pick for Simplified Chinese (face index matters in .ttc collections: SC is not face 0)."""
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(
            ["fc-list", f":lang=zh-cn:style={style}", "file", "family", "index"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    best: tuple[int, Path, int] | None = None
    for line in out.splitlines():
        path, _, rest = line.partition(": ")
        family, _, idx = rest.partition(":index=")
        rank = 0 if "Sans CJK SC" in family and "Mono" not in family else 1 if "SC" in family else 2
        try:
            cand = (rank, Path(path), int(idx or 0))
        except ValueError:
            continue
        if best is None or cand[0] < best[0]:
            best = cand
    return (best[1], best[2]) if best else None


def _index_of_sc(path: Path) -> int:
    return 2 if path.name.startswith("NotoSansCJK") and path.suffix == ".ttc" else 0


@lru_cache(maxsize=1)
def find_cjk_font() -> CjkFont:
    env = os.environ.get("XIAOSHUJU_CJK_FONT")
    if env:
        p = Path(env)
        if not p.exists():
            raise NoCjkFontError(f"XIAOSHUJU_CJK_FONT={env} does not exist")
        return CjkFont(p, _index_of_sc(p), p, _index_of_sc(p))
    reg, bold = _fc_match("Regular"), _fc_match("Bold")
    if reg:
        return CjkFont(reg[0], reg[1], (bold or reg)[0], (bold or reg)[1])
    for r, b in _KNOWN:
        if Path(r).exists():
            rb = b if Path(b).exists() else r
            return CjkFont(Path(r), _index_of_sc(Path(r)), Path(rb), _index_of_sc(Path(rb)))
    raise NoCjkFontError(
        "no Chinese (CJK) font found: install the system package fonts-noto-cjk "
        "(apt-get install fonts-noto-cjk) or set XIAOSHUJU_CJK_FONT to a .ttf/.otf/.ttc file"
    )


@lru_cache(maxsize=8)
def is_cff(path: Path, index: int) -> bool:
    from fontTools.ttLib import TTFont

    f = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        return "glyf" not in f and ("CFF " in f or "CFF2" in f)
    finally:
        f.close()


_SUBSETS: dict[tuple, bytes] = {}


def truetype_subset(path: Path, index: int, codepoints: set[int], out: Path) -> Path:
    """Cached (per process, by font and character set) wrapper of ``_truetype_subset``: re-rendering the same
    week, or weeks with the same characters, skips the conversion."""
    key = (str(path), index, frozenset(codepoints))
    if key not in _SUBSETS:
        if len(_SUBSETS) >= 8:
            _SUBSETS.pop(next(iter(_SUBSETS)))
        _SUBSETS[key] = _truetype_subset(path, index, codepoints, out).read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_SUBSETS[key])
    return out


def _truetype_subset(path: Path, index: int, codepoints: set[int], out: Path) -> Path:
    """A TrueType-outline (glyf) font with just ``codepoints``, converted from a CFF (OpenType/PostScript) font.

    Why: fpdf2 embeds CID-keyed CFF fonts (Noto CJK) with an embedded encoding CMap, which some PDF text
    extractors (pypdf) read as single bytes — the text layer then looks garbled past 255 distinct glyphs.
    TrueType outlines are embedded as Identity-H, which every reader understands. Quadratic conversion
    (cu2qu, 1 font unit tolerance) is visually identical at print sizes.
    """
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(str(path), fontNumber=index, lazy=True)
    for tag in ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG", "DSIG"):
        if tag in font:  # shaping and vertical metrics are not used by the PDF; skipping them halves the time
            del font[tag]
    opts = subset.Options()
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=sorted(codepoints | set(range(0x20, 0x7F))))
    sub.subset(font)
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    for tag in ("CFF ", "CFF2", "VORG"):
        if tag in font:
            del font[tag]
    hmtx = font["hmtx"]
    for name in order:  # left side bearing = xMin of the new outline
        glyph = glyf[name]
        glyph.recalcBounds(glyf)
        hmtx.metrics[name] = (hmtx.metrics[name][0], getattr(glyph, "xMin", 0))
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones",):
        setattr(maxp, attr, 1)
    for attr in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attr, 0)
    font["maxp"] = maxp
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\000\001\000\000"
    font["head"].glyphDataFormat = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    return out
