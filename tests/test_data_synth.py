"""Tests of the synthetic word generator (starnet_trt.data.synth).

They need one TrueType font: a common system font if installed, else PIL's bundled
default font (Pillow >= 10.1) written to a temporary file; skipped if neither exists.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from starnet_trt.data import synth
from starnet_trt.data.synth import PUNCT_CHARS, SynthConfig, Synthesizer, TextSampler

_SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)
WORDS = ["hello", "World", "a", "scene", "text", "recognition", "STAR", "net", "x1", "Parking"]
ALNUM = set(string.ascii_letters + string.digits)


@pytest.fixture(scope="module")
def font_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one usable font."""
    d = tmp_path_factory.mktemp("fonts")
    for p in _SYSTEM_FONTS:
        if Path(p).is_file():
            (d / Path(p).name).write_bytes(Path(p).read_bytes())
            return d
    try:
        data = ImageFont.load_default(20).font_bytes  # type: ignore[union-attr]
    except (AttributeError, TypeError, OSError):
        pytest.skip("no TrueType font available")
    (d / "default.ttf").write_bytes(data)
    return d


@pytest.fixture(scope="module")
def fonts(font_dir: Path) -> list[str]:
    found = synth.discover_fonts([font_dir], use_cache=False)
    if not found:
        pytest.skip("the available font does not cover 0-9a-zA-Z")
    return found


def test_font_check(font_dir: Path, tmp_path: Path) -> None:
    font = next(font_dir.iterdir())
    assert synth.font_is_usable(font)
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font")
    assert not synth.font_is_usable(bad)
    assert not synth.font_is_usable(tmp_path / "missing.ttf")


def test_discover_fonts_caches(font_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = synth.discover_fonts([font_dir, tmp_path / "does-not-exist"])
    assert len(first) == 1
    assert list((tmp_path / "cache" / "starnet_trt").glob("fonts-*.json"))
    monkeypatch.setattr(synth, "font_is_usable", lambda p: pytest.fail("cache not used"))
    assert synth.discover_fonts([font_dir]) == first


def test_read_font_list(font_dir: Path, tmp_path: Path) -> None:
    font = next(font_dir.iterdir())
    lst = tmp_path / "fonts.txt"
    lst.write_text(f"# recorded\n{font}\n/nonexistent/font.ttf\n{font.name}\n")
    assert synth.read_font_list(lst, font_dir) == [str(font), str(font_dir / font.name)]


def test_load_words_cleans(tmp_path: Path) -> None:
    f = tmp_path / "words"
    f.write_text("apple\nApple's\ndon't\ncafé\nx-ray\n" + "a" * 21 + "\n", encoding="utf-8")
    assert synth.load_words([f, tmp_path / "missing"]) == ["apple", "cafe", "dont", "xray"]


def test_text_sampler_mix_and_case() -> None:
    s = TextSampler(WORDS, punct=True)
    rng = np.random.default_rng(0)
    texts = [s.sample(rng) for _ in range(2000)]
    assert all(1 <= len(t) <= 20 for t in texts)
    assert all(set(t) <= ALNUM | set(PUNCT_CHARS) for t in texts)
    lowered = {t.lower() for t in texts}
    assert {"hello", "scene"} <= lowered
    assert any(t.isupper() for t in texts) and any(t.islower() for t in texts)
    assert any(t[:1].isupper() and t[1:].islower() for t in texts)
    assert sum(t.isdigit() for t in texts) > 100
    assert any(set(t) & set(PUNCT_CHARS) for t in texts)
    s2 = TextSampler(WORDS, punct=False)
    assert all(set(s2.sample(rng)) <= ALNUM for _ in range(1000))


def test_samples_deterministic_and_valid(fonts: list[str]) -> None:
    cfg = SynthConfig(punct=False)
    a, b = Synthesizer(fonts, WORDS, cfg), Synthesizer(fonts, WORDS, cfg)
    for i in range(40):
        img, label = a.sample(7, i)
        img2, label2 = b.sample(7, i)
        assert label == label2 and np.array_equal(img, img2)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert cfg.min_height <= img.shape[0] <= cfg.max_height and img.shape[1] >= 4
        assert 0 < len(label) <= 20 and set(label) <= ALNUM
        assert img.std() > 0  # not blank
    other = [a.sample(8, i)[1] for i in range(40)]
    assert other != [a.sample(7, i)[1] for i in range(40)]


def test_render_word_heights(fonts: list[str]) -> None:
    cfg = SynthConfig(min_height=40, max_height=40)
    rng = np.random.default_rng(1)
    for text in ("A", "Wide text 123", "$9.99"):
        img = synth.render_word(text, fonts[0], rng, cfg)
        assert img is not None and img.shape[0] == 40


def test_encode_formats(fonts: list[str]) -> None:
    import cv2

    for fmt, magic in (("jpg", b"\xff\xd8"), ("png", b"\x89PNG")):
        s = Synthesizer(fonts, WORDS, SynthConfig(image_format=fmt))
        img, _ = s.sample(0, 0)
        data = s.encode(img)
        assert data[: len(magic)] == magic
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == img.shape


def _args(font_dir: Path, tmp_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    synth.add_arguments(parser)
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS))
    return parser.parse_args(["--fonts-dir", str(font_dir), "--words", str(words), *extra])


def test_cli_writes_lmdb_independent_of_workers(
    font_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("lmdb")
    from starnet_trt.data.datasets import open_dataset

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out1, out2 = tmp_path / "w1.lmdb", tmp_path / "w2.lmdb"
    assert synth.run(_args(font_dir, tmp_path, "--out", str(out1), "--count", "12", "--seed", "3")) == 0
    err = capsys.readouterr().err
    assert "images/s" in err and "12/12" in err
    assert (
        synth.run(_args(font_dir, tmp_path, "--out", str(out2), "--count", "12", "--seed", "3", "--workers", "2")) == 0
    )
    d1, d2 = open_dataset(out1), open_dataset(out2)
    assert len(d1) == len(d2) == 12
    for i in range(12):
        assert d1.raw(i) == d2.raw(i)  # same bytes whatever the worker count
        img, label = d1[i]
        assert img is not None and label
    # An existing output is not clobbered without --overwrite.
    with pytest.raises(FileExistsError):
        synth.run(_args(font_dir, tmp_path, "--out", str(out1), "--count", "2"))


def test_cli_sheet_and_list(
    font_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sheet = tmp_path / "sheet.png"
    assert synth.run(_args(font_dir, tmp_path, "--sheet", str(sheet), "--count", "5")) == 0
    assert sheet.stat().st_size > 0
    assert synth.run(_args(font_dir, tmp_path, "--list-fonts")) == 0
    assert str(font_dir) in capsys.readouterr().out
    assert synth.run(_args(font_dir, tmp_path)) == 2  # neither --out nor --sheet
