"""Synthetic word-image generator (SynthText/MJSynth-style) writing a DTRB/PaddleOCR LMDB.

Each sample is rendered independently from ``numpy.random.default_rng([seed, index])``,
so a dataset is reproducible from its seed and the same whatever ``--workers`` is (given
the same fonts and word lists).

Pipeline per sample: text (dictionary word / random alphanumeric / number-like, with case
variety) -> font, size, spacing, stroke, shadow -> background (flat, gradient, noise
texture, stripes, clutter) with a contrasting text colour -> geometric warps (rotation,
shear, perspective, arc/sine curve) applied to image and text mask together -> crop
around the warped text with tight or loose margins -> resize to a natural height
(32-64 px) with aspect jitter -> blur / low resolution / noise / contrast / JPEG.

Images are stored as encoded BGR bytes at their natural size; the trainer applies the
PaddleOCR ``resize_norm_img`` itself. Labels keep the rendered case and symbols.

Usage::

    python -m starnet_trt.data.synth --out synth.lmdb --count 100000 --seed 1 --workers 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import os
import re
import string
import sys
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from starnet_trt.data import augment as aug

DEFAULT_FONTS_DIRS = ("/usr/share/fonts", "/usr/share/texmf/fonts/opentype")
"""Debian puts most fonts under /usr/share/fonts but fonts-texgyre under texmf."""
DEFAULT_WORD_LISTS = ("/usr/share/dict/american-english", "/usr/share/dict/american-english-large")
REQUIRED_CHARS = string.digits + string.ascii_letters
PUNCT_CHARS = "$.,:/-%"
"""Symbols the number-like texts may contain (a font must render them too)."""

FONT_EXTS = (".ttf", ".otf", ".ttc")
# Fonts that map Latin code points to pictures or are not meant for running text
# (Linux Biolinum Keyboard draws every letter inside a key cap).
_EXCLUDE_FONT = re.compile(
    r"symbol|dingbat|d050000l|emoji|icon|awesome|wingding|webding|-math|math\.|keyboard|linbiolinum_k", re.I
)
_HEAVY_FONT = re.compile(r"bold|black|heavy|demi|semibold|extrabold|ultra|fat|-bd|_b\.|bd\.", re.I)
_FONT_CHECK_VERSION = 3  # bump when the usability test changes, invalidates caches


# --------------------------------------------------------------------------- fonts


def _glyph_signature(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes] | None:
    """Rendered mask of one character, or None if it renders nothing."""
    try:
        mask = font.getmask(ch)
    except Exception:
        return None
    if mask.getbbox() is None:
        return None
    return mask.size, bytes(mask)


def font_is_usable(path: str | os.PathLike[str], chars: str = REQUIRED_CHARS + PUNCT_CHARS) -> bool:
    """Whether a font renders every character of ``chars`` with a real glyph.

    A glyph counts when its mask is non-empty and differs from the font's ``.notdef``
    box (what FreeType draws for unmapped code points, obtained by rendering private-use
    / unassigned code points). Fonts whose letters are not distinct shapes (symbol fonts
    mapping letters to one box) are rejected too. Uses only PIL, no fontTools.

    Args:
        path: Font file.
        chars: Characters that must be covered.
    """
    if _EXCLUDE_FONT.search(os.path.basename(str(path))):
        return False
    try:
        font = ImageFont.truetype(str(path), 32, layout_engine=ImageFont.Layout.BASIC)
    except Exception:
        return False
    notdef = set()
    for probe in ("\U0010fffd", "\U000e0fff", "\ufffe", "\U0003fffd"):
        sig = _glyph_signature(font, probe)
        if sig is not None:
            notdef.add(sig)
    sigs = set()
    for ch in chars:
        sig = _glyph_signature(font, ch)
        if sig is None or sig in notdef:
            return False
        if ch in REQUIRED_CHARS:
            sigs.add(sig)
    # Small-caps/all-caps fonts legitimately share a/A shapes (36 distinct); fewer
    # distinct shapes means a decorative or broken font.
    return len(sigs) >= 34


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "starnet_trt"


def _font_candidates(fonts_dir: Path) -> list[Path]:
    return sorted(p for p in fonts_dir.rglob("*") if p.suffix.lower() in FONT_EXTS and p.is_file())


def discover_fonts(
    fonts_dirs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = DEFAULT_FONTS_DIRS,
    *,
    use_cache: bool = True,
) -> list[str]:
    """List the usable fonts under ``fonts_dirs`` (recursively), sorted.

    The result is cached in ``~/.cache/starnet_trt/`` keyed by the candidate files'
    paths, sizes and mtimes, because checking a few hundred fonts takes seconds.

    Args:
        fonts_dirs: Directories (or one directory) searched recursively for
            .ttf/.otf/.ttc files; missing directories are ignored.
        use_cache: Read/write the cache.

    Returns:
        Absolute paths of usable fonts.
    """
    if isinstance(fonts_dirs, (str, os.PathLike)):
        fonts_dirs = [fonts_dirs]
    roots = [Path(d).resolve() for d in fonts_dirs if Path(d).is_dir()]
    cands = sorted({p for root in roots for p in _font_candidates(root)})
    h = hashlib.sha1(f"v{_FONT_CHECK_VERSION}|{roots}".encode())
    for p in cands:
        st = p.stat()
        h.update(f"|{p}|{st.st_size}|{int(st.st_mtime)}".encode())
    cache_file = _cache_dir() / f"fonts-{h.hexdigest()[:16]}.json"
    if use_cache and cache_file.is_file():
        try:
            return list(json.loads(cache_file.read_text()))
        except (OSError, ValueError):
            pass
    usable = [str(p) for p in cands if font_is_usable(p)]
    if use_cache:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(usable, indent=0))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only home must not stop generation
    return usable


def read_font_list(list_file: str | os.PathLike[str], base_dir: str | os.PathLike[str] = "/") -> list[str]:
    """Read a recorded font list (one path per line, ``#`` comments).

    Relative paths are resolved against ``base_dir``. Missing files are skipped so a
    list recorded on another machine still works.
    """
    out = []
    for line in Path(list_file).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(base_dir) / line
        if p.is_file():
            out.append(str(p))
    return out


class FontPool:
    """Fonts grouped by family so that big families (many weights) do not dominate."""

    def __init__(self, paths: Sequence[str]) -> None:
        """Group ``paths`` by the family name stored in each font."""
        if not paths:
            raise ValueError("no usable fonts: install some (tools/install_fonts.sh) or pass --fonts-dir")
        fam: dict[str, list[str]] = {}
        for p in sorted(paths):
            try:
                name = ImageFont.truetype(p, 12).getname()[0] or p
            except Exception:
                continue
            fam.setdefault(name, []).append(p)
        self.families = [fam[k] for k in sorted(fam)]
        self.paths = [p for f in self.families for p in f]

    def __len__(self) -> int:
        return len(self.paths)

    def sample(self, rng: np.random.Generator) -> str:
        """Pick a family uniformly, then one of its files."""
        f = self.families[int(rng.integers(len(self.families)))]
        return f[int(rng.integers(len(f)))]


@lru_cache(maxsize=768)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: deterministic across machines with/without libraqm, and faster.
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


# --------------------------------------------------------------------------- text

# Word-length distribution of real scene text (IIIT5K/IC15 train medians are 4-5
# characters), not of the dictionary (which peaks near 9 and would make crops too long).
_LEN_WEIGHTS = np.array(
    [4, 9, 13, 14, 13, 11, 9, 7, 5, 4, 3, 2, 1.5, 1, 0.7, 0.5, 0.3, 0.2, 0.15, 0.1], dtype=np.float64
)
_LEN_P = _LEN_WEIGHTS / _LEN_WEIGHTS.sum()


# Function words and signage words dominate real scene text but are a vanishing share of
# a 130k-word dictionary sampled uniformly; a fixed share of samples comes from here.
COMMON_WORDS: tuple[str, ...] = tuple(
    """the of and to in a is for on with at by from it as be or an are this that not you
    your we our all new no one two up out off open sale free now more day get go my me us
    so do if he she his her they them their was has have had will can but what when how who
    which here there where only just over about into than then time way world life home
    love city road street st ave rd park hotel bar cafe coffee food pizza bank shop store
    market center centre station exit entrance stop push pull parking hall house school
    bus taxi police fire hospital east west north south main first last best good big old
    hot cold price off only sale buy now tel fax www com info news show club king
    gold star sun red blue black white green car bike bar grill restaurant fresh""".split()
)


def load_words(files: Sequence[str | os.PathLike[str]] = DEFAULT_WORD_LISTS) -> list[str]:
    """Read word lists, keeping ASCII alphanumerics of each word.

    Possessives (``"Paris's"``) are dropped; accents are stripped (``"café"`` ->
    ``"cafe"``); other apostrophes/hyphens are removed. Missing files are skipped.

    Returns:
        Sorted unique words of length 1..20.
    """
    words: set[str] = set()
    for f in files:
        try:
            text = Path(f).read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        for w in text.split():
            if w.endswith("'s"):
                continue
            w = unicodedata.normalize("NFKD", w)
            w = "".join(c for c in w if c.isascii() and c.isalnum())
            if 1 <= len(w) <= 20:
                words.add(w)
    return sorted(words)


class TextSampler:
    """Draws label strings: dictionary words, random alphanumerics and number-like strings."""

    def __init__(
        self, words: Sequence[str], *, punct: bool = True, mix: tuple[float, float, float] = (0.65, 0.20, 0.15)
    ) -> None:
        """Index ``words`` by length.

        Args:
            words: Dictionary words (ASCII alphanumerics).
            punct: Allow ``$.,:/-%`` in number-like strings (prices, dates, times).
            mix: Probabilities of (dictionary word, random alphanumeric, number-like).
        """
        self.by_len: dict[int, list[str]] = {}
        for w in words:
            self.by_len.setdefault(len(w), []).append(w)
        self.punct = punct
        p = np.asarray(mix, dtype=np.float64)
        self.mix = p / p.sum()

    def _length(self, rng: np.random.Generator) -> int:
        return int(rng.choice(len(_LEN_P), p=_LEN_P)) + 1

    def word(self, rng: np.random.Generator) -> str:
        """A dictionary word in lower / Capitalized / UPPER / original case."""
        if rng.random() < 0.12:
            return _apply_case(COMMON_WORDS[int(rng.integers(len(COMMON_WORDS)))], rng)
        n = self._length(rng)
        for d in range(20):  # nearest available length
            for m in (n - d, n + d):
                lst = self.by_len.get(m)
                if lst:
                    w = lst[int(rng.integers(len(lst)))]
                    return _apply_case(w, rng)
        return self.alnum(rng)

    def alnum(self, rng: np.random.Generator) -> str:
        """Random letters and digits (codes, plates, product names)."""
        n = min(self._length(rng), 14)
        style = rng.random()
        if style < 0.35:
            pool = string.ascii_uppercase + string.digits
        elif style < 0.65:
            pool = string.ascii_lowercase + string.digits
        elif style < 0.85:
            pool = string.ascii_letters + string.digits
        else:
            pool = string.ascii_letters
        return "".join(pool[i] for i in rng.integers(len(pool), size=n))

    def number(self, rng: np.random.Generator) -> str:
        """Digits, sometimes formatted as a price, date, time, phone number or percentage."""
        r = rng.random()
        d = lambda k: "".join(str(v) for v in rng.integers(10, size=k))  # noqa: E731
        if not self.punct or r < 0.5:
            return d(int(rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 10])))
        if r < 0.62:
            return ("$" if rng.random() < 0.5 else "") + str(int(rng.integers(0, 1000))) + "." + d(2)
        if r < 0.72:
            dd, mm, yy = int(rng.integers(1, 32)), int(rng.integers(1, 13)), int(rng.integers(1950, 2031))
            sep = str(rng.choice(["/", "-", "."]))
            if rng.random() < 0.5:
                return f"{dd:02d}{sep}{mm:02d}{sep}{yy}"
            return f"{yy}{sep}{mm:02d}{sep}{dd:02d}"
        if r < 0.80:
            return f"{int(rng.integers(0, 24))}:{int(rng.integers(0, 60)):02d}"
        if r < 0.87:
            return f"{d(3)}-{d(4)}"
        if r < 0.93:
            return f"{int(rng.integers(1, 100))}%"
        return f"{int(rng.integers(1, 100))},{d(3)}"

    def sample(self, rng: np.random.Generator) -> str:
        """One label string of 1..20 characters."""
        k = int(rng.choice(3, p=self.mix))
        s = (self.word, self.alnum, self.number)[k](rng)
        return s[:20]


def _apply_case(w: str, rng: np.random.Generator) -> str:
    # About half of real signage words are all caps (IIIT5K/IC15 train: 47-55 %).
    r = rng.random()
    if r < 0.25:
        return w.lower()
    if r < 0.50:
        return w[:1].upper() + w[1:].lower()
    if r < 0.95:
        return w.upper()
    return w  # dictionary spelling (proper nouns keep their capital)


# --------------------------------------------------------------------------- colours / backgrounds


def _lum(c: np.ndarray) -> float:
    b, g, r = (float(v) for v in c[:3])
    return 0.114 * b + 0.587 * g + 0.299 * r


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    r = rng.random()
    if r < 0.5:  # neutral inks / paints / walls: black, white, greys, slightly tinted
        v = rng.choice([rng.uniform(0, 60), rng.uniform(190, 255), rng.uniform(60, 190)], p=[0.4, 0.35, 0.25])
        return np.full(3, v, np.float32) + rng.uniform(-12, 12, 3).astype(np.float32)
    if r < 0.8:  # signage colours, saturated but not neon
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(60, 230), rng.integers(40, 240)]]])
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    # Anything, pulled toward grey: photographed colours are rarely pure.
    c = rng.uniform(0, 255, 3).astype(np.float32)
    return c * 0.6 + float(c.mean()) * 0.4


def _contrasting_colour(
    rng: np.random.Generator, bg_lum: float, min_diff: float, max_diff: float = 255.0
) -> np.ndarray:
    best, best_d = None, -1.0
    for _ in range(24):
        c = np.clip(_random_colour(rng), 0, 255)
        diff = abs(_lum(c) - bg_lum)
        if min_diff <= diff <= max_diff:
            return c
        if diff > best_d and diff <= max_diff:
            best, best_d = c, diff
    if best is not None and best_d >= min_diff * 0.6:
        return best
    # Fall back to black or white, whichever differs more from the background.
    v = 0.0 if bg_lum > 127 else 255.0
    if max_diff < 255.0:  # low contrast wanted: grey just max_diff away
        v = bg_lum - max_diff if bg_lum > 127 else bg_lum + max_diff
    return np.full(3, np.clip(v, 0, 255), np.float32)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Blurred noise in [0,1] with features about ``scale`` pixels wide."""
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    n = rng.random((sh, sw), dtype=np.float32)
    n = cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(n.min()), float(n.max())
    return (n - lo) / max(1e-6, hi - lo)


def make_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A ``h x w x 3`` float32 background: flat, gradient, noise texture, stripes or clutter."""
    c1 = np.clip(_random_colour(rng), 0, 255)
    r = rng.random()
    if r < 0.25:
        bg = np.broadcast_to(c1, (h, w, 3)).astype(np.float32)
    elif r < 0.45:
        c2 = np.clip(c1 + rng.normal(0, 60, 3), 0, 255).astype(np.float32)
        ang = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * math.cos(ang) + yy * math.sin(ang)
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        bg = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif r < 0.72:
        c2 = np.clip(c1 + rng.normal(0, 45, 3), 0, 255).astype(np.float32)
        t = _smooth_noise(rng, h, w, rng.uniform(2, max(3.0, h / 2)))
        if rng.random() < 0.5:  # second octave: stone/wood/paper grain
            t = 0.65 * t + 0.35 * _smooth_noise(rng, h, w, rng.uniform(1, 4))
        bg = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif r < 0.82:
        c2 = np.clip(c1 + rng.normal(0, 40, 3), 0, 255).astype(np.float32)
        ang = rng.uniform(0, np.pi)
        period = rng.uniform(3, max(4.0, h / 2))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = 0.5 + 0.5 * np.sin((xx * math.cos(ang) + yy * math.sin(ang)) * 2 * np.pi / period)
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
        bg = c1 * (1 - t[..., None]) + c2 * t[..., None]
    else:
        # Clutter: shapes/lines of other colours, like the edges of signs and objects.
        bg = np.ascontiguousarray(np.broadcast_to(c1, (h, w, 3)), dtype=np.float32)
        for _ in range(int(rng.integers(1, 6))):
            col = tuple(float(v) for v in np.clip(c1 + rng.normal(0, 70, 3), 0, 255))
            x0, x1 = sorted(rng.integers(-w // 4, w + w // 4, size=2).tolist())
            y0, y1 = sorted(rng.integers(-h // 4, h + h // 4, size=2).tolist())
            if rng.random() < 0.5:
                cv2.rectangle(bg, (x0, y0), (x1, y1), col, -1)
            else:
                cv2.line(bg, (x0, y0), (x1, y1), col, int(rng.integers(1, max(2, h // 8))))
        bg = cv2.GaussianBlur(bg, (0, 0), rng.uniform(0.5, 3))
    if rng.random() < 0.3:  # fine grain on top of anything
        bg = bg + rng.normal(0, rng.uniform(2, 10), (h, w, 1)).astype(np.float32)
    return np.clip(bg, 0, 255).astype(np.float32)


# --------------------------------------------------------------------------- rendering


@dataclass
class SynthConfig:
    """Knobs of the renderer (defaults match the documented distribution)."""

    min_height: int = 32
    max_height: int = 64
    punct: bool = True
    mix: tuple[float, float, float] = (0.65, 0.20, 0.15)
    image_format: str = "jpg"
    jpeg_quality: int = 95


def _draw_text(
    text: str,
    font: ImageFont.FreeTypeFont,
    spacing: float,
    stroke: int,
    origin: tuple[float, float],
    size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Text fill mask and (optionally) stroke mask, float32 in [0, 1]."""
    fill = Image.new("L", size, 0)
    d = ImageDraw.Draw(fill)
    strk = None
    if stroke > 0:
        strk = Image.new("L", size, 0)
        ds = ImageDraw.Draw(strk)
    x, y = origin
    if spacing == 0:
        d.text((x, y), text, font=font, fill=255)
        if strk is not None:
            ds.text((x, y), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    else:
        for ch in text:
            d.text((x, y), ch, font=font, fill=255)
            if strk is not None:
                ds.text((x, y), ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
            x += font.getlength(ch) + spacing
    f = np.asarray(fill, dtype=np.float32) / 255.0
    s = None if strk is None else np.asarray(strk, dtype=np.float32) / 255.0
    return f, s


def _text_extent(
    text: str, font: ImageFont.FreeTypeFont, spacing: float, stroke: int
) -> tuple[float, float, float, float]:
    """Bounding box (l, t, r, b) of the drawn text relative to the draw origin."""
    if spacing == 0:
        return font.getbbox(text, stroke_width=stroke)
    x, left, t, r, b = 0.0, 1e9, 1e9, -1e9, -1e9
    for ch in text:
        bl, bt, br, bb = font.getbbox(ch, stroke_width=stroke)
        if br > bl:
            left, r = min(left, x + bl), max(r, x + br)
            t, b = min(t, bt), max(b, bb)
        x += font.getlength(ch) + spacing
    if r < left:
        return 0, 0, 0, 0
    return left, t, r, b


def _blend(img: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return img * (1.0 - a) + colour * a


def render_word(
    text: str, font_path: str, rng: np.random.Generator, cfg: SynthConfig | None = None
) -> np.ndarray | None:
    """Render ``text`` with ``font_path`` as a distorted scene-text crop.

    Args:
        text: The string to draw (its exact characters are the label).
        font_path: A usable font file (see :func:`font_is_usable`).
        rng: Random source for every style choice.
        cfg: Renderer settings.

    Returns:
        ``HxWx3`` uint8 BGR image with ``cfg.min_height <= H <= cfg.max_height``, or None
        when the font drew nothing.
    """
    cfg = cfg or SynthConfig()
    # Font size: mostly large (clean glyphs after downscaling), sometimes small so the
    # final upscale gives the blocky/blurred look of far-away text.
    size = int(rng.integers(14, 30)) if rng.random() < 0.2 else int(rng.integers(30, 65))
    size -= size % 2  # fewer distinct sizes -> better font-cache hit rate
    font = _load_font(font_path, size)

    spacing = 0.0
    if rng.random() < 0.25:
        spacing = float(rng.uniform(-0.06, 0.35) * size)
    stroke = 0
    if rng.random() < 0.15:
        stroke = int(rng.integers(1, max(2, size // 12) + 1))
    # Signage is mostly heavy type; a same-colour stroke emboldens regular fonts.
    # Already-heavy faces would turn into blobs, so only lighter ones are emboldened.
    embolden = stroke == 0 and rng.random() < 0.2 and not _HEAVY_FONT.search(os.path.basename(font_path))
    if embolden:
        stroke = int(rng.integers(1, max(2, size // 18) + 1))
    left, t, r, b = _text_extent(text, font, spacing, stroke)
    tw, th = r - left, b - t
    if tw <= 0 or th <= 0:
        return None

    # Geometry first: the canvas padding must hold rotation/curve displacement + margins.
    angle = 0.0
    if rng.random() < 0.45:
        angle = float(rng.normal(0, 3.0))
        if rng.random() < 0.15:
            angle = float(rng.uniform(-12, 12))
    shear = float(rng.uniform(-0.35, 0.35)) if rng.random() < 0.15 else 0.0
    curve_amp = float(rng.uniform(0.1, 0.5) * size) if rng.random() < 0.2 else 0.0
    persp = float(rng.uniform(0.05, 0.35)) if rng.random() < 0.35 else 0.0

    pad_y = int(0.7 * size + abs(math.sin(math.radians(angle))) * tw / 2 + curve_amp + persp * th) + 2
    pad_x = int(0.8 * size + abs(shear) * th + persp * th) + 2
    W, H = math.ceil(tw) + 2 * pad_x, math.ceil(th) + 2 * pad_y
    origin = (pad_x - left, pad_y - t)
    fill, strk = _draw_text(text, font, spacing, stroke, origin, (W, H))
    if fill.max() <= 0:
        return None
    text_box = (pad_x, pad_y, pad_x + math.ceil(tw), pad_y + math.ceil(th))

    # Crop reference: the glyphs themselves, or the font's full line box (ascender to
    # descender) so words like "one" still get the space a detector box would give them.
    ref = np.zeros((H, W), np.float32)
    if rng.random() < 0.5:
        asc, desc = font.getmetrics()
        y0 = int(origin[1] + max(0, size * 0.05))
        ref[max(0, y0) : min(H, int(origin[1] + asc + desc * 0.8)), text_box[0] : text_box[2]] = 1.0
    ref = np.maximum(ref, fill if strk is None else strk)

    # Neighbouring text lines cut by the crop (very common in real detector crops).
    if rng.random() < 0.12:
        pool = string.ascii_letters + string.digits
        other = "".join(pool[k] for k in rng.integers(len(pool), size=int(rng.integers(6, 24))))
        dy = (th + rng.uniform(0.15, 0.5) * size) * rng.choice([-1, 1])
        o_fill, _ = _draw_text(other, font, 0.0, 0, (origin[0] - rng.uniform(0, tw), origin[1] + dy), (W, H))
        fill = np.maximum(fill, o_fill)

    bg = make_background(rng, H, W)
    bg_lum = float(_lum(bg[text_box[1] : text_box[3], text_box[0] : text_box[2]].reshape(-1, 3).mean(0)))
    if rng.random() < 0.08:
        col = _contrasting_colour(rng, bg_lum, 18, 45)  # faded / low-contrast signage
    else:
        col = _contrasting_colour(rng, bg_lum, float(rng.uniform(60, 140)))
    img = bg
    if rng.random() < 0.12:  # drop shadow: offset, blurred, darker
        dx, dy2 = rng.integers(-max(1, size // 10), max(2, size // 10) + 1, size=2)
        sh = np.roll(np.roll(fill if strk is None else strk, int(dy2), 0), int(dx), 1)
        sh = cv2.GaussianBlur(sh, (0, 0), rng.uniform(0.5, max(0.6, size / 20)))
        img = _blend(
            img, np.zeros(3, np.float32) if bg_lum > 60 else np.full(3, 255, np.float32), sh * rng.uniform(0.4, 0.9)
        )
    if strk is not None:
        scol = col if embolden else _contrasting_colour(rng, _lum(col), 80.0)
        img = _blend(img, scol, strk)
    if rng.random() < 0.1:  # two-tone / gradient fill
        c2 = np.clip(col + rng.normal(0, 50, 3), 0, 255).astype(np.float32)
        tt = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
        img = img * (1 - fill[..., None]) + (col * (1 - tt) + c2 * tt) * fill[..., None]
    else:
        img = _blend(img, col, fill)
    img = np.clip(img, 0, 255).astype(np.uint8)

    # Geometric distortions, applied to image and crop reference together.
    arrs = [img, ref]
    masks = [False, True]
    if angle or shear:
        arrs = aug.warp_affine(arrs, angle, shear, masks)
    if persp:
        arrs = aug.warp_perspective(arrs, rng, persp, text_box, masks)
    if curve_amp:
        arrs = aug.warp_curve(arrs, rng, curve_amp, masks)
    img, ref = arrs

    ys, xs = np.nonzero(ref > 0.25)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    if rng.random() < 0.5:  # tight detector box, may clip a pixel of the glyphs
        m = rng.uniform([-0.04, -0.04, -0.03, -0.03], [0.12, 0.12, 0.15, 0.15]) * size
    else:  # loose box
        m = rng.uniform([0.0, 0.0, 0.0, 0.0], [0.45, 0.45, 0.6, 0.6]) * size
    y0 = max(0, round(y0 - m[0]))
    y1 = min(H, round(y1 + m[1]))
    x0 = max(0, round(x0 - m[2]))
    x1 = min(W, round(x1 + m[3]))
    crop = img[y0:y1, x0:x1]
    ch, cw = crop.shape[:2]
    if ch < 4 or cw < 2:
        return None

    out_h = int(rng.integers(cfg.min_height, cfg.max_height + 1))
    aspect = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
    out_w = max(4, round(cw * out_h / ch * aspect))
    interp = cv2.INTER_AREA if out_h < ch else cv2.INTER_CUBIC
    out = cv2.resize(crop, (out_w, out_h), interpolation=interp)

    # Photometric degradation at the output resolution.
    r = rng.random()
    if r < 0.25:
        out = aug.gaussian_blur(out, rng.uniform(0.4, 1.6))
    elif r < 0.35:
        out = aug.motion_blur(out, rng, int(rng.integers(2, 6)))
    elif r < 0.55:  # small, far-away text upscaled by the crop resize (very common in IC15)
        out = aug.low_resolution(out, rng.uniform(0.3, 0.75))
    if rng.random() < 0.25:  # uneven light: the scene is shaded / lit from one side
        out = aug.shading(out, rng, rng.uniform(0.3, 0.8))
    if rng.random() < 0.3:
        out = aug.contrast_brightness(out, rng.uniform(0.5, 1.3), rng.uniform(-50, 30))
    if rng.random() < 0.3:
        out = aug.gaussian_noise(out, rng, rng.uniform(2, 12))
    if rng.random() < 0.3:
        out = aug.jpeg(out, int(rng.integers(15, 75)))
    return out


class Synthesizer:
    """Renders sample ``i`` of a dataset deterministically from ``(seed, i)``."""

    def __init__(self, fonts: Sequence[str], words: Sequence[str], cfg: SynthConfig | None = None) -> None:
        """Prepare the font pool and text sampler."""
        self.cfg = cfg or SynthConfig()
        self.fonts = FontPool(fonts)
        self.text = TextSampler(words, punct=self.cfg.punct, mix=self.cfg.mix)

    def sample(self, seed: int, index: int) -> tuple[np.ndarray, str]:
        """Image and label of sample ``index`` (retries other texts/fonts if one fails)."""
        rng = np.random.default_rng([int(seed), int(index)])
        for _ in range(10):
            text = self.text.sample(rng)
            font = self.fonts.sample(rng)
            img = render_word(text, font, rng, self.cfg)
            if img is not None:
                return img, text
        raise RuntimeError(f"could not render sample {index} (fonts broken?)")

    def encode(self, img: np.ndarray) -> bytes:
        """Encode an image as configured (JPEG or PNG)."""
        if self.cfg.image_format == "png":
            ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        else:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(self.cfg.jpeg_quality)])
        if not ok:
            raise RuntimeError("image encoding failed")
        return buf.tobytes()


# --------------------------------------------------------------------------- multiprocessing

_WORKER: Synthesizer | None = None


def _worker_init(fonts: list[str], words: list[str], cfg: SynthConfig) -> None:
    global _WORKER
    cv2.setNumThreads(1)  # one process = one core; OpenCV threads would oversubscribe
    _WORKER = Synthesizer(fonts, words, cfg)


def _worker_render(job: tuple[int, int, int]) -> list[tuple[bytes, str]]:
    seed, start, stop = job
    assert _WORKER is not None
    out = []
    for i in range(start, stop):
        img, label = _WORKER.sample(seed, i)
        out.append((_WORKER.encode(img), label))
    return out


def generate(
    synth_args: tuple[list[str], list[str], SynthConfig],
    seed: int,
    count: int,
    workers: int = 1,
    chunk: int = 200,
) -> Iterator[tuple[bytes, str]]:
    """Yield ``count`` encoded samples in index order, rendered by ``workers`` processes."""
    jobs = [(seed, s, min(count, s + chunk)) for s in range(0, count, chunk)]
    if workers <= 1:
        _worker_init(*synth_args)
        for job in jobs:
            yield from _worker_render(job)
        return
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(workers, initializer=_worker_init, initargs=synth_args) as pool:
        for batch in pool.imap(_worker_render, jobs):
            yield from batch


def contact_sheet(
    images: Sequence[np.ndarray], labels: Sequence[str], cols: int = 4, cell: tuple[int, int] = (256, 64)
) -> np.ndarray:
    """Tile images (each fitted into ``cell``) with their labels underneath, for eyeballing."""
    cw, chh = cell
    rows = (len(images) + cols - 1) // cols
    sheet = np.full((rows * (chh + 16), cols * (cw + 4), 3), 255, np.uint8)
    for k, (im, lab) in enumerate(zip(images, labels, strict=False)):
        r, c = divmod(k, cols)
        s = min(cw / im.shape[1], chh / im.shape[0], 2.0)
        im2 = cv2.resize(im, (max(1, int(im.shape[1] * s)), max(1, int(im.shape[0] * s))))
        y, x = r * (chh + 16), c * (cw + 4)
        sheet[y : y + im2.shape[0], x : x + im2.shape[1]] = im2
        cv2.putText(sheet, lab[:28], (x, y + chh + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 200), 1, cv2.LINE_AA)
    return sheet


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``synth`` command's options to ``parser``."""
    parser.add_argument("--out", required=False, help="output LMDB directory (written via <out>.tmp)")
    parser.add_argument("--count", type=int, default=10000, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (sample i uses rng([seed, i]))")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes")
    parser.add_argument(
        "--fonts-dir", nargs="+", default=list(DEFAULT_FONTS_DIRS), help="directories searched for .ttf/.otf/.ttc"
    )
    parser.add_argument(
        "--fonts-list",
        default=None,
        help="use a recorded font list instead of searching, e.g. starnet_trt/data/fonts.txt",
    )
    parser.add_argument("--words", nargs="*", default=list(DEFAULT_WORD_LISTS), help="word list files")
    parser.add_argument("--min-height", type=int, default=32)
    parser.add_argument("--max-height", type=int, default=64)
    parser.add_argument("--no-punct", action="store_true", help="labels only from 0-9a-zA-Z")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image encoding in the LMDB")
    parser.add_argument("--jpeg-quality", type=int, default=95)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--sheet", default=None, help="also save a contact sheet PNG of the first 48 samples")
    parser.add_argument("--list-fonts", action="store_true", help="print the usable fonts and exit")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Execute the ``synth`` command; returns a process exit code."""
    from starnet_trt.data.lmdb_io import LmdbWriter

    t0 = time.perf_counter()
    if args.fonts_list:
        fonts = read_font_list(args.fonts_list)
    else:
        fonts = discover_fonts(args.fonts_dir)
    if args.list_fonts:
        for f in fonts:
            print(f)
        return 0
    if not args.out and not args.sheet:
        _log("synth: --out (or --sheet) is required")
        return 2
    words = load_words(args.words)
    cfg = SynthConfig(
        min_height=args.min_height,
        max_height=args.max_height,
        punct=not args.no_punct,
        image_format=args.format,
        jpeg_quality=args.jpeg_quality,
    )
    synth_args = (fonts, words, cfg)
    n_fam = len(FontPool(fonts).families) if fonts else 0
    _log(f"synth: {len(fonts)} fonts ({n_fam} families), {len(words)} words, setup {time.perf_counter() - t0:.1f}s")

    if args.sheet:
        s = Synthesizer(*synth_args)
        items = [s.sample(args.seed, i) for i in range(min(48, max(1, args.count)))]
        cv2.imwrite(args.sheet, contact_sheet([i for i, _ in items], [lab for _, lab in items]))
        _log(f"synth: contact sheet -> {args.sheet}")
        if not args.out:
            return 0

    t1 = time.perf_counter()
    last = t1
    with LmdbWriter(args.out, overwrite=args.overwrite) as writer:
        for n, (data, label) in enumerate(generate(synth_args, args.seed, args.count, args.workers), 1):
            writer.add(data, label)
            now = time.perf_counter()
            if now - last >= 10 or n == args.count:
                rate = n / max(1e-9, now - t1)
                eta = (args.count - n) / max(1e-9, rate)
                _log(f"synth: {n}/{args.count} {rate:.1f} img/s eta {eta / 60:.1f} min")
                last = now
    dt = time.perf_counter() - t1
    _log(
        f"synth: wrote {args.count} images to {args.out} in {dt:.1f}s: "
        f"{args.count / max(1e-9, dt):.1f} images/s with {args.workers} worker(s)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m starnet_trt.data.synth``."""
    parser = argparse.ArgumentParser(prog="starnet-trt synth", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
