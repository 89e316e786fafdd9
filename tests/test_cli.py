"""starnet-trt command line, end to end on temporary files."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import pytest
from onnx_fixtures import make_model, text_image

from starnet_trt import cli
from starnet_trt.cli import main

WORDS = ["hello", "abc", "zz9"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(make_model(tmp_path_factory.mktemp("models") / "tiny.onnx"))


@pytest.fixture
def image_dir(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, w in enumerate(WORDS):
        cv2.imwrite(str(folder / f"{i}_{w}.png"), text_image(w))
    (folder / "readme.txt").write_text("not an image, and not picked up")
    return folder


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_recognize_directory_text_output(capsys, model, image_dir):
    code, out, err = run_cli(capsys, "recognize", image_dir, "--model", model, "--batch-size", 2)
    assert code == 0, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(p.endswith(f"{i}_{w}.png"), t) for i, (p, t, _) in enumerate(lines) for w in [WORDS[i]]] == [
        (True, w) for w in WORDS
    ]
    assert all(0.99 < float(c) <= 1.0 for _, _, c in lines)


def test_recognize_files_json(capsys, model, image_dir):
    files = sorted(image_dir.glob("*.png"))
    code, out, _ = run_cli(capsys, "recognize", files[1], files[0], "--model", model, "--json")
    assert code == 0
    records = json.loads(out)
    assert [r["text"] for r in records] == ["abc", "hello"]
    assert [r["path"] for r in records] == [str(files[1]), str(files[0])]
    assert all(isinstance(r["confidence"], float) for r in records)


def test_recognize_missing_file_is_a_clean_error(capsys, model, tmp_path):
    code, out, err = run_cli(capsys, "recognize", tmp_path / "missing.png", "--model", model)
    assert code == 2
    assert err.startswith("starnet-trt: error: ") and "missing.png" in err
    assert "Traceback" not in err and out == ""


def test_recognize_skip_errors(capsys, model, image_dir):
    bad = image_dir / "broken.png"
    bad.write_bytes(b"garbage")
    code, out, err = run_cli(capsys, "recognize", image_dir, "--model", model, "--skip-errors")
    assert code == 1
    assert [line.split("\t")[1] for line in out.splitlines()] == WORDS
    assert "broken.png" in err and "warning" in err


def test_recognize_empty_directory(capsys, model, tmp_path):
    code, _, err = run_cli(capsys, "recognize", tmp_path, "--model", model)
    assert code == 2 and "no image files" in err


def test_recognize_model_errors(capsys, tmp_path, image_dir):
    bare = make_model(tmp_path / "bare.onnx", metadata=False)
    code, _, err = run_cli(capsys, "recognize", image_dir, "--model", bare)
    assert code == 2 and "lacks starnet-trt metadata" in err
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    code, _, err = run_cli(capsys, "recognize", image_dir, "--model", engine)
    assert code == 2 and "engine sidecar not found" in err  # refused (no sidecar), never run by another backend


@pytest.fixture
def label_file(image_dir):
    gt = image_dir / "gt.txt"
    labels = ["Hello", "abc!", "zz8"]  # the last one is wrong on purpose
    gt.write_text("".join(f"{i}_{w}.png\t{label}\n" for i, (w, label) in enumerate(zip(WORDS, labels, strict=True))))
    return gt


def test_eval_json_is_one_object(capsys, model, label_file):
    code, out, err = run_cli(capsys, "eval", "--data", label_file, "--model", model, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"accuracy", "ned", "count", "images_per_s"}
    assert result["count"] == 3
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["ned"] == pytest.approx((2 + 2 / 3) / 3)


def test_eval_text_and_limit(capsys, model, label_file):
    code, out, _ = run_cli(capsys, "eval", "--data", label_file, "--model", model, "--limit", 2, "--no-progress")
    assert code == 0
    assert "word accuracy  1.0000" in out and "count          2" in out


def test_eval_progress_goes_to_stderr(capsys, model, label_file):
    code, out, err = run_cli(capsys, "eval", "--data", label_file, "--model", model, "--json", "--progress")
    assert code == 0
    assert json.loads(out)["count"] == 3
    assert "3/3" in err


def test_eval_missing_dataset(capsys, model, tmp_path):
    code, _, err = run_cli(capsys, "eval", "--data", tmp_path / "none.txt", "--model", model)
    assert code == 2 and "dataset not found" in err


def test_inspect(capsys, model):
    code, out, _ = run_cli(capsys, "inspect", model)
    assert code == 0
    assert "x: tensor(float32) [N, 3, 32, 100]" in out and "sha256" in out and "tiny_test" in out
    code, out, _ = run_cli(capsys, "inspect", model, "--json")
    info = json.loads(out)
    assert info["opset"] == {"": 17}
    assert info["inputs"][0]["shape"] == ["N", 3, 32, 100]
    assert info["outputs"][0]["name"] == "probs"
    assert info["model_info"]["charset"] == "0123456789abcdefghijklmnopqrstuvwxyz"
    assert len(info["sha256"]) == 64


def test_inspect_model_without_metadata_still_works(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "inspect", make_model(tmp_path / "bare.onnx", metadata=False))
    assert code == 0 and "metadata:  unusable" in out


def test_inspect_not_a_model(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that protobuf rejects \xff\xff")
    code, _, err = run_cli(capsys, "inspect", bad)
    assert code == 2 and "starnet-trt: error:" in err


def test_usage_errors_and_help(capsys):
    assert run_cli(capsys, "frobnicate")[0] == 2
    assert run_cli(capsys)[0] == 2
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and all(name in out for name in cli.COMMANDS)
    assert run_cli(capsys, "recognize", "--help")[0] == 0


def test_missing_torch_is_explained(capsys, monkeypatch):
    def no_torch(name):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli.importlib, "import_module", no_torch)
    code, _, err = run_cli(capsys, "train", "--help")
    assert code == 2
    assert "pip install 'starnet-trt[torch]'" in err


def test_new_commands_are_one_table_entry(capsys, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "inspect2", ("starnet_trt.cli:InspectCommand", "same as inspect"))
    code, out, _ = run_cli(capsys, "inspect2", "--help")
    assert code == 0 and "MODEL" in out


def test_ctrl_c_exits_130(capsys, monkeypatch, model, image_dir):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.RecognizeCommand, "run", staticmethod(interrupted))
    code, _, err = run_cli(capsys, "recognize", image_dir, "--model", model)
    assert code == 130 and "Traceback" not in err


def test_python_dash_m(model):
    proc = subprocess.run(
        [sys.executable, "-m", "starnet_trt", "inspect", model, "--json"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"][0]["shape"] == ["N", 25, 37]


def test_python_dash_m_recognize(model, image_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "starnet_trt", "recognize", str(image_dir), "--model", model],
        # Not the repo root: "-m" puts the working directory first on sys.path, and the source tree has no _core.
        cwd=image_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[1] for line in proc.stdout.splitlines()] == WORDS
