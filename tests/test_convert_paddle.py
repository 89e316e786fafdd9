"""starnet-trt convert --paddle: safe loading, variant inference, exact mapping and clear refusals.

The checkpoints here are written the way paddle.save writes a state dict (a pickle of name -> NumPy array, plus
Paddle's "StructuredToParameterName@@" table), with Paddle's names and layouts taken from the name table, so the
round trip checks the loader, the inference of the variant and every transpose; numerical parity with Paddle's
own model code is a separate question (see the issue on Paddle fixtures)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from starnet_trt.cli import main
from starnet_trt.convert import convert_paddle, infer_arch, load_pdparams, read_char_dict
from starnet_trt.metadata import DEFAULT_CHARSET
from starnet_trt.model import build_model
from starnet_trt.model.paddle_names import PADDLE_ONLY, paddle_name_table


def _paddle_state(model) -> dict:
    state = model.state_dict()
    out = {}
    for m in paddle_name_table(model):
        value = state[m.torch_name].detach().numpy()
        out[m.paddle_name] = np.ascontiguousarray(value.T if m.transpose else value)
    for name in PADDLE_ONLY:  # the inert ex_fc layer PaddleOCR also saves
        out[name] = np.zeros((1, 1), np.float32)
    out["StructuredToParameterName@@"] = {k: k.replace(".", "_") for k in list(out)}
    return out


def _randomized(arch: str, classes: int = 37, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(arch, num_classes=classes).eval()
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.dtype.is_floating_point:
                if name.endswith("running_var"):
                    p.uniform_(0.5, 1.5)
                elif "fc2" in name:  # keep the fiducials near the RARE prior
                    p.mul_(1.0).add_(torch.randn_like(p) * 0.02)
                else:
                    p.copy_(torch.randn_like(p) * 0.1)
    return model


def _write(path: Path, state: dict, protocol: int = 4) -> Path:
    path.write_bytes(pickle.dumps(state, protocol=protocol))
    return path


@pytest.fixture(scope="module")
def mv3(tmp_path_factory):
    model = _randomized("starnet_mv3")
    path = _write(tmp_path_factory.mktemp("pd") / "best_accuracy.pdparams", _paddle_state(model))
    return model, path


def test_round_trip_to_onnx_matches_the_model(mv3, tmp_path, capsys):
    model, path = mv3
    out = tmp_path / "converted.onnx"
    assert main(["convert", "--paddle", str(path), "--out", str(out)]) == 0
    assert "starnet_mv3" in capsys.readouterr().out
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3, 32, 100)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert (expected.argmax(-1) == got.argmax(-1)).all()


@pytest.mark.parametrize("protocol", [2, 4])
def test_loader_reads_paddle_pickles(mv3, tmp_path, protocol):
    model, _ = mv3
    path = _write(tmp_path / "p.pdparams", _paddle_state(model), protocol)
    tensors = load_pdparams(path)
    assert "StructuredToParameterName@@" not in tensors
    assert infer_arch(tensors) == ("starnet_mv3", "small", 37)


def test_variant_and_classes_are_inferred_for_resnet():
    model = build_model("starnet_r34_vd", num_classes=40)
    shapes = {k: np.zeros(1, np.float32) for k in (m.paddle_name for m in paddle_name_table(model))}
    shapes["transform.loc_net.loc_conv0.conv.weight"] = np.zeros((64, 3, 3, 3), np.float32)
    shapes["head.fc.weight"] = np.zeros((512, 40), np.float32)
    assert infer_arch(shapes) == ("starnet_r34_vd", "large", 40)


def test_a_charset_that_does_not_fit_is_refused(mv3, tmp_path):
    _, path = mv3
    with pytest.raises(ValueError, match="37 classes but the charset has 5"):
        convert_paddle(path, charset="abcde")
    _, charset, _ = convert_paddle(path, charset=DEFAULT_CHARSET[::-1])
    assert charset == DEFAULT_CHARSET[::-1]


def test_missing_and_unexpected_names_are_listed(mv3, tmp_path):
    model, _ = mv3
    state = _paddle_state(model)
    state.pop("neck.encoder.lstm.0.cell_fw.weight_hh")
    state["backbone.extra_layer.weight"] = np.zeros(3, np.float32)
    path = _write(tmp_path / "bad.pdparams", state)
    with pytest.raises(
        ValueError, match=r"missing neck\.encoder\.lstm\.0\.cell_fw\.weight_hh.*unexpected backbone\.extra"
    ):
        convert_paddle(path)


def test_a_wrong_shape_is_named(mv3, tmp_path):
    model, _ = mv3
    state = _paddle_state(model)
    state["head.fc.bias"] = np.zeros(36, np.float32)
    path = _write(tmp_path / "shape.pdparams", state)
    with pytest.raises(ValueError, match=r"head\.fc\.bias: shape \(36,\)"):
        convert_paddle(path)


def test_requested_arch_must_match(mv3):
    _, path = mv3
    with pytest.raises(ValueError, match="is starnet_mv3"):
        convert_paddle(path, arch="starnet_r34_vd")


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_malicious_pdparams_executes_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps({"head.fc.weight": _Exploit(marker)}))
    assert main(["convert", "--paddle", str(path), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "refusing to load posix.system" in err or "refusing to load os.system" in err
    assert not marker.exists()
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a loadable Paddle checkpoint"),
        (b"\x80\x04garbage", "not a loadable Paddle checkpoint"),
        (pickle.dumps([1, 2, 3]), "expected a Paddle state dict"),
        (pickle.dumps({"a": [1.0]}), "is a list, expected a NumPy array"),
        (pickle.dumps({}), "holds no tensors"),
        (pickle.dumps({"x": np.zeros(2)}), "not a STAR-Net"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, data, message):
    path = tmp_path / "f.pdparams"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        convert_paddle(path)


def test_char_dict(tmp_path):
    d = tmp_path / "dict.txt"
    d.write_text("a\nb\nc\n")
    assert read_char_dict(d, use_space_char=True) == "abc "
    d.write_text("a\nbb\n")
    with pytest.raises(ValueError, match="one character"):
        read_char_dict(d, use_space_char=False)
