"""Fuzz every file loader with mutated and random files: ONNX models (Recognizer), checkpoints, label files,
LMDB datasets and images. Each must raise its documented exception (ValueError / FileNotFoundError, or
TypeError for a wrong argument type) and never crash, hang or execute anything from the file."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from starnet_trt import Recognizer
from starnet_trt.data.datasets import LabelFileDataset, LmdbDataset
from starnet_trt.images import read_image
from starnet_trt.model.checkpoint import load_checkpoint

from .conftest import call

MODEL = Path(__file__).resolve().parents[2] / "starnet_trt" / "models" / "starnet_mv3.onnx"
FILE_ERRORS = (ValueError, FileNotFoundError)


REGRESSIONS = Path(__file__).parent / "regressions"


def _mutate(rng: np.random.Generator, data: bytes) -> bytes:
    """Truncate, flip bytes, splice random bytes or duplicate a slice."""
    b = bytearray(data)
    op = rng.integers(0, 4)
    if op == 0 and len(b) > 1:
        return bytes(b[: int(rng.integers(0, len(b)))])
    if op == 1:
        for _ in range(int(rng.integers(1, 20))):
            if b:
                b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        return bytes(b)
    if op == 2:
        at = int(rng.integers(0, len(b) + 1))
        return bytes(b[:at]) + rng.bytes(int(rng.integers(1, 64))) + bytes(b[at:])
    a, z = sorted(int(x) for x in rng.integers(0, len(b) + 1, 2))
    return bytes(b[:z]) + bytes(b[a:z]) + bytes(b[z:])


def test_fuzz_onnx_models(fuzzer, tmp_path):
    original = MODEL.read_bytes()
    path = tmp_path / "m.onnx"

    def one(rng):
        # Mutations near the end of the file hit the graph and metadata; most of the file is weights.
        head, tail = original[:4096], original[-65536:]
        if rng.random() < 0.5:
            data = _mutate(rng, head) + original[4096:]
        else:
            data = original[:-65536] + _mutate(rng, tail)
        if rng.random() < 0.1:
            data = rng.bytes(int(rng.integers(0, 2000)))
        path.write_bytes(data)

        def run():
            with Recognizer(str(path)) as rec:
                rec.recognize([np.full((32, 80, 3), 200, np.uint8)])

        return call(run, (ValueError, RuntimeError))

    fuzzer.run(one)


def test_fuzz_checkpoints(fuzzer, tmp_path):
    import torch

    buffer = io.BytesIO()
    torch.save({"arch": "starnet_mv3", "model": {"w": torch.zeros(3)}, "charset": "abc"}, buffer)
    original = buffer.getvalue()
    path = tmp_path / "c.pt"

    def run():
        import warnings

        with warnings.catch_warnings():  # torch warns about odd pickle protocols in mangled files
            warnings.simplefilter("ignore")
            load_checkpoint(path)

    # Found by this harness in CI: torch's weights-only unpickler raising AssertionError on mangled tensor records.
    for kept in sorted(REGRESSIONS.glob("checkpoint_*.pt")):
        path.write_bytes(kept.read_bytes())
        assert call(run, FILE_ERRORS) == "ValueError", kept.name

    def one(rng):
        path.write_bytes(_mutate(rng, original) if rng.random() < 0.9 else rng.bytes(int(rng.integers(0, 500))))
        return call(run, FILE_ERRORS)

    fuzzer.run(one)


class _Exploit:
    """Unpickling this runs os.system: a weights-only loader must refuse it without running it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("container", ["plain", "torch"])
def test_malicious_pickle_executes_nothing(tmp_path, container):
    import torch

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if container == "plain":
        path.write_bytes(pickle.dumps({"model": _Exploit(marker)}))
    else:
        torch.save({"model": _Exploit(marker)}, path)
    with pytest.raises(ValueError, match="not a loadable weights-only"):
        load_checkpoint(path)
    assert not marker.exists(), "the pickle's payload ran"


def test_fuzz_label_files(fuzzer, tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((20, 40, 3), 128, np.uint8))
    pieces = [
        b"a.png\thello\n",
        b"a.png\t\n",
        b"\n",
        b"../../etc/passwd\tx\n",
        b"/etc/passwd\tx\n",
        b"\xff\xfe\tx\n",
        b"a.png",
        b"\tlabel\n",
        b"missing.png\tx\n",
        b"a.png\t\xe2\x82\n",
        b"\xef\xbb\xbfa.png\tbom\n",
    ]
    path = tmp_path / "gt.txt"

    def one(rng):
        lines = [pieces[int(i)] for i in rng.integers(0, len(pieces), int(rng.integers(0, 6)))]
        data = b"".join(lines)
        path.write_bytes(_mutate(rng, data) if data and rng.random() < 0.3 else data)
        strict = bool(rng.integers(0, 2))

        def run():
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = LabelFileDataset(path, strict=strict)
            for i in range(len(ds)):
                image, label = ds[i]
                assert image is None or image.dtype == np.uint8
                assert isinstance(label, str)

        return call(run, FILE_ERRORS)

    fuzzer.run(one)


def test_fuzz_lmdb(fuzzer, tmp_path):
    from starnet_trt.data.lmdb_io import LmdbWriter

    good = tmp_path / "good.lmdb"
    with LmdbWriter(good) as writer:
        for i in range(4):
            _, png = cv2.imencode(".png", np.full((16, 30, 3), 40 * i, np.uint8))
            writer.add(png.tobytes(), f"w{i}")
    original = (good / "data.mdb").read_bytes()
    bad = tmp_path / "bad.lmdb"
    bad.mkdir()

    def one(rng):
        (bad / "data.mdb").write_bytes(_mutate(rng, original))
        lock = bad / "lock.mdb"
        if lock.exists():
            lock.unlink()

        def run():
            ds = LmdbDataset(bad)
            for i in range(min(len(ds), 8)):
                image, label = ds[i]
                assert image is None or image.dtype == np.uint8
                assert isinstance(label, str)

        return call(run, (*FILE_ERRORS, KeyError))  # KeyError: a sample's keys are missing (documented)

    fuzzer.run(one)


def test_fuzz_images(fuzzer, tmp_path):
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # libtiff/libpng complaints, by the thousand
    try:
        _fuzz_images(fuzzer, tmp_path)
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _fuzz_images(fuzzer, tmp_path):
    exts = (".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm")  # every format the header sniffer (limits.py) reads
    originals = [cv2.imencode(ext, np.full((24, 60, 3), 90, np.uint8))[1].tobytes() for ext in exts]
    path = tmp_path / "x.img"

    def one(rng):
        data = _mutate(rng, originals[int(rng.integers(0, len(originals)))])
        path.write_bytes(data)

        def run():
            img = read_image(path)
            assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3

        return call(run, FILE_ERRORS)

    fuzzer.run(one)


def test_fuzz_engine_sidecars(fuzzer, tmp_path):
    """The C++ runtime's own JSON reader (csrc/runtime/miniJson.cpp) and sidecar checks, on mutated sidecars.
    Needs starnet_trt._trt (built with TensorRT headers); skipped elsewhere, CI included."""
    import hashlib
    import json

    trt = pytest.importorskip("starnet_trt._trt", reason="starnet_trt._trt is built only with TensorRT headers")
    engine = tmp_path / "x.engine"
    blob = np.random.default_rng(0).integers(0, 256, 300, np.uint8).tobytes()
    engine.write_bytes(blob)
    shape = [-1, 3, 32, 100]
    sidecar = {
        "format": "starnet-trt-engine", "format_version": 1, "engine": "x.engine",
        "engine_sha256": hashlib.sha256(blob).hexdigest(), "engine_bytes": len(blob), "precision": "fp16",
        "charset": "0123456789abcdefghijklmnopqrstuvwxyz", "arch": "starnet_mv3",
        "preprocess": {"height": 32, "width": 100, "channels": 3, "resize": "keep_ratio_pad_right"},
        "blank_index": 0, "output": "probs", "metadata": {"k": "v\u00e9"},
        "input": {"name": "x", "dtype": "float32", "shape": shape},
        "outputs": [{"name": "probs", "dtype": "float32", "shape": [-1, 25, 37]}],
        "profile": {"min": [1, 3, 32, 100], "opt": [2, 3, 32, 100], "max": [4, 3, 32, 100]},
        "tensorrt": {"flavour": "tensorrt", "version": "10.16.0"}, "device": {"compute_capabilities": ["9.0"]},
        "plugins": [],
    }  # fmt: skip
    original = json.dumps(sidecar, indent=1).encode()
    side = tmp_path / "x.json"
    side.write_bytes(original)
    trt.inspect_engine(str(engine))  # the unmutated pair is accepted

    def one(rng):
        side.write_bytes(_mutate(rng, original) if rng.random() < 0.9 else rng.bytes(int(rng.integers(0, 500))))

        def run():
            try:
                info = trt.inspect_engine(str(engine))
            except UnicodeDecodeError as exc:  # a ValueError, but one that hides the real message
                raise AssertionError(f"message not decodable: {exc}") from None
            assert info.max_batch >= info.min_batch >= 1

        return call(run, (ValueError,))

    fuzzer.run(one)
