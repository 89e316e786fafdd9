"""Bad-input matrix for the command line: every command that reads a file, given a missing path, a directory, a
corrupt file or a non-UTF-8 file name, exits 2 with one 'starnet-trt: error:' line naming the problem and no
traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from starnet_trt.cli import main


def _corrupt(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"corrupt{suffix}"
    path.write_bytes(b"\x00\x01 not a real file \xff" * 50)
    return path


def _odd_name(tmp_path: Path, suffix: str) -> Path:
    """A file name that is not valid UTF-8 (bytes 0xff 0xfe), with corrupt content."""
    raw = os.fsencode(str(tmp_path)) + b"/bad\xff\xfe" + suffix.encode()
    path = Path(os.fsdecode(raw))
    path.write_bytes(b"garbage")
    return path


CASES = {
    # command: argv builder taking the bad path
    "recognize": lambda p, t: ["recognize", str(p)],
    "eval": lambda p, t: ["eval", "--data", str(p)],
    "inspect": lambda p, t: ["inspect", str(p)],
    "export": lambda p, t: ["export", "--checkpoint", str(p), "--out", str(t / "o.onnx")],
    "build": lambda p, t: ["build", "--onnx", str(p), "-o", str(t / "e.engine")],
    "quantize": lambda p, t: ["quantize", "--onnx", str(p), "--calib", str(p), "-o", str(t / "q.onnx")],
    "convert": lambda p, t: ["convert", "--paddle", str(p), "--out", str(t / "c.onnx")],
    "bench": lambda p, t: ["bench", "--model", str(p), "--iterations", "1", "--batch", "1"],
    "recognize --model": lambda p, t: ["recognize", "--model", str(p), str(Path(__file__).parent)],
    "train --config": lambda p, t: ["train", "--config", str(p)],
}
SUFFIX = {"export": ".pt", "convert": ".pdparams", "train --config": ".json", "eval": ".txt", "recognize": ".png"}


@pytest.mark.parametrize("kind", ["missing", "directory", "corrupt", "odd-name"])
@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_file_arguments_exit_2_cleanly(command, kind, tmp_path, capsys):
    suffix = SUFFIX.get(command, ".onnx")
    if kind == "missing":
        bad = tmp_path / f"missing{suffix}"
    elif kind == "directory":
        bad = tmp_path / f"folder{suffix}"
        bad.mkdir()
    elif kind == "corrupt":
        bad = _corrupt(tmp_path, suffix)
    else:
        bad = _odd_name(tmp_path, suffix)
    code = main(CASES[command](bad, tmp_path))
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("starnet-trt: error:")]
    assert len(lines) == 1, err
    assert len(lines[0]) < 2000


def test_a_good_image_with_a_non_utf8_name_is_printed(tmp_path, capsys):
    import cv2
    import numpy as np

    name = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/w\xff.png"))
    cv2.imencode(".png", np.full((32, 80, 3), 200, np.uint8))[1].tofile(str(name))
    assert main(["recognize", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\\udcff.png\t" in out
    assert main(["recognize", "--json", str(tmp_path)]) == 0
    assert "udcff" in capsys.readouterr().out


def test_a_real_sigint_during_recognize_exits_130_without_a_traceback(tmp_path):
    """SIGINT delivered to a running ``starnet-trt recognize`` (not a simulated KeyboardInterrupt)."""
    import signal
    import subprocess
    import sys
    import time

    import cv2
    import numpy as np

    png = cv2.imencode(".png", np.full((32, 90, 3), 180, np.uint8))[1].tobytes()
    for i in range(3000):
        (tmp_path / f"w{i:05d}.png").write_bytes(png)
    proc = subprocess.Popen(
        [sys.executable, "-m", "starnet_trt", "recognize", str(tmp_path), "--batch-size", "8"],
        cwd=tmp_path,  # not the repo root: the source tree has no _core
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # it is working
    assert "w000" in first, first
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted" in err and "Traceback" not in err
