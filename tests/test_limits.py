"""Size limits on untrusted files (issue #9): decompression bombs refused before decoding, oversized files
before reading, and the header sniffer agrees with OpenCV on every format it reads."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from onnx_fixtures import make_model, text_image

from starnet_trt import builder, images, limits
from starnet_trt.data import datasets
from starnet_trt.graph.check import check_onnx
from starnet_trt.recognizer import Recognizer


def png_bomb(width: int, height: int) -> bytes:
    """A valid gray PNG of zeros: ~100 KB on disk for 10000x10000 pixels (300 MB once decoded as BGR)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png_bomb(10000, 10000))
    return path


@pytest.fixture
def no_decode(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("cv2.imdecode was called on a refused image")

    monkeypatch.setattr(images.cv2, "imdecode", refuse)
    monkeypatch.setattr(datasets.cv2, "imdecode", refuse)


def test_a_png_bomb_is_refused_before_decoding(bomb, no_decode):
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ValueError, match=r"declares 10000x10000 pixels.*refused before decoding"):
        images.read_image(bomb)
    assert datasets.decode_image(bomb.read_bytes()) is None


def test_a_bomb_in_a_batch_is_skipped_and_the_others_are_read(bomb, tmp_path):
    word = tmp_path / "word.png"
    cv2.imwrite(str(word), text_image("abc"))
    with Recognizer(make_model(tmp_path / "tiny.onnx")) as rec:
        results = rec.recognize([word, bomb, word], on_error="skip")
        assert [r and r.text for r in results] == ["abc", None, "abc"]
        with pytest.raises(ValueError, match=r"image 1: .*refused before decoding"):
            rec.recognize([word, bomb])


def test_images_under_the_limit_still_decode(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_IMAGE_PIXELS", 32 * 100)
    ok = tmp_path / "ok.png"
    cv2.imwrite(str(ok), np.zeros((32, 100, 3), np.uint8))
    assert images.read_image(ok).shape == (32, 100, 3)
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((32, 101, 3), np.uint8))
    with pytest.raises(ValueError, match="declares 101x32 pixels"):
        images.read_image(big)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"])
def test_header_dimensions_agree_with_opencv(ext):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 123, 3), np.uint8)
    ok, buf = cv2.imencode(ext, img[:, :, 0] if ext == ".pgm" else img)
    assert ok
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    assert limits.image_dimensions(buf.tobytes()) == (decoded.shape[1], decoded.shape[0])


@pytest.mark.parametrize(
    "data", [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\0\0\0\0WEBPVP8X", b"II*\0\xff\xff"]
)
def test_truncated_headers_are_unknown_not_errors(data):
    assert limits.image_dimensions(data) is None


def test_oversized_files_are_refused_before_reading(tmp_path, monkeypatch):
    word = tmp_path / "word.png"
    cv2.imwrite(str(word), text_image("abc"))
    model = make_model(tmp_path / "tiny.onnx")
    monkeypatch.setattr(limits, "MAX_IMAGE_FILE_BYTES", 10)
    with pytest.raises(ValueError, match=r"image file .* over the 10-byte limit"):
        images.read_image(word)
    monkeypatch.setattr(limits, "MAX_ONNX_BYTES", 10)
    with pytest.raises(ValueError, match=r"ONNX model .* over the 10-byte limit"):
        check_onnx(model)
    engine = tmp_path / "x.engine"
    engine.write_bytes(b"\0" * 100)
    builder.sidecar_path_of(engine).write_text('{"format": "x"}' + " " * 100)
    monkeypatch.setattr(limits, "MAX_SIDECAR_BYTES", 10)
    with pytest.raises(ValueError, match=r"engine sidecar .* over the 10-byte limit"):
        builder.read_sidecar(engine)
