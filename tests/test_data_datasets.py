"""Tests of starnet_trt.data.datasets (label files, LMDB, open_dataset)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from starnet_trt.data.datasets import (
    LabelFileDataset,
    LmdbDataset,
    decode_image,
    open_dataset,
    safe_relative_path,
)


def _word_png(path: Path, text: str, grey: bool = False) -> None:
    img = np.full((32, 16 * len(text) + 8, 3), 255, np.uint8)
    cv2.putText(img, text, (4, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    if grey:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


@pytest.fixture()
def label_dir(tmp_path: Path) -> Path:
    """A tiny PaddleOCR-style set: train.txt + train/*.png (one greyscale)."""
    d = tmp_path / "set"
    _word_png(d / "train" / "w1.png", "Hello")
    _word_png(d / "train" / "w2.png", "62-03", grey=True)
    _word_png(d / "train" / "w3.png", "a b")
    (d / "train.txt").write_text("train/w1.png\tHello\ntrain/w2.png\t62-03\n\ntrain/w3.png\ta\tb\n", encoding="utf-8")
    return d


def test_label_file_dataset(label_dir: Path) -> None:
    ds = LabelFileDataset(label_dir / "train.txt")
    assert len(ds) == 3
    assert ds.keys == ["train/w1.png", "train/w2.png", "train/w3.png"]
    assert ds.labels == ["Hello", "62-03", "a\tb"]  # split on the first tab only
    assert ds.name == "set/train"
    for i in range(3):
        img, label = ds[i]
        assert img is not None and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert label == ds.labels[i]
    assert ds[-1][1] == "a\tb"
    with pytest.raises(IndexError):
        ds[3]


def test_undecodable_image_gives_none(label_dir: Path) -> None:
    (label_dir / "train" / "w1.png").write_bytes(b"not a png")
    img, label = LabelFileDataset(label_dir / "train.txt")[0]
    assert img is None and label == "Hello"


@pytest.mark.parametrize("bad", ["../w.png", "train/../../w.png", "/etc/passwd", "..", "C:/x.png", "\\\\srv\\x.png"])
def test_path_traversal_rejected(tmp_path: Path, bad: str) -> None:
    (tmp_path / "gt.txt").write_text(f"{bad}\tx\n")
    with pytest.raises(ValueError, match=r"gt.txt:1"):
        LabelFileDataset(tmp_path / "gt.txt")
    # Unsafe paths are never skipped silently, even when lenient.
    with pytest.raises(ValueError):
        LabelFileDataset(tmp_path / "gt.txt", strict=False)


def test_safe_relative_path_normalizes_inside_paths() -> None:
    assert safe_relative_path("train/../train/a.png") == "train/a.png"
    assert safe_relative_path("./a.png") == "a.png"
    assert safe_relative_path("sub\\a.png") == "sub/a.png"


def test_malformed_and_missing_lines(label_dir: Path) -> None:
    gt = label_dir / "train.txt"
    gt.write_text("train/w1.png\tHello\nno tab here\ntrain/missing.png\tx\n")
    with pytest.raises(ValueError, match=r"train.txt:2: expected"):
        LabelFileDataset(gt)
    gt.write_text("train/w1.png\tHello\ntrain/missing.png\tx\n")
    with pytest.raises(FileNotFoundError, match=r"train.txt:2: image not found"):
        LabelFileDataset(gt)
    gt.write_text("train/w1.png\tHello\nno tab here\ntrain/missing.png\tx\n")
    with pytest.warns(UserWarning, match="skipped 2 bad line"):
        ds = LabelFileDataset(gt, strict=False)
    assert len(ds) == 1 and len(ds.skipped) == 2


def test_missing_label_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="label file not found"):
        LabelFileDataset(tmp_path / "nope.txt")


def test_lmdb_dataset_and_open_dataset(tmp_path: Path, label_dir: Path) -> None:
    pytest.importorskip("lmdb")
    from starnet_trt.data.lmdb_io import LmdbWriter

    src = LabelFileDataset(label_dir / "train.txt")
    out = tmp_path / "x.lmdb"
    with LmdbWriter(out) as w:
        for rel, label in zip(src.keys, src.labels, strict=False):
            w.add((label_dir / rel).read_bytes(), label)
        w.add(b"garbage", "broken")
    ds = open_dataset(out)
    assert isinstance(ds, LmdbDataset)
    assert len(ds) == 4 and ds.name == "x.lmdb"
    assert ds.keys[0] == "image-000000001"
    for i in range(3):
        img, label = ds[i]
        ref, ref_label = src[i]
        assert label == ref_label and img is not None and np.array_equal(img, ref)
    assert ds[3] == (None, "broken")
    assert ds.raw(0)[0] == (label_dir / "train/w1.png").read_bytes()


def test_open_dataset_dispatch(tmp_path: Path, label_dir: Path) -> None:
    assert isinstance(open_dataset(label_dir / "train.txt"), LabelFileDataset)
    with pytest.raises(FileNotFoundError):
        open_dataset(tmp_path / "missing.lmdb")
    with pytest.raises(ValueError, match=r"without data\.mdb"):
        open_dataset(label_dir)
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="unknown dataset format"):
        open_dataset(tmp_path / "x.csv")


def test_decode_image_variants() -> None:
    assert decode_image(b"") is None
    assert decode_image(b"\x00\x01") is None
    rgba = np.zeros((5, 7, 4), np.uint8)
    ok, buf = cv2.imencode(".png", rgba)
    assert ok
    img = decode_image(buf.tobytes())
    assert img is not None and img.shape == (5, 7, 3)
