"""starnet-trt convert --dtrb: safe loading, DataParallel prefixes, class count, exact names and clear refusals.

The checkpoints are written as DTRB's train.py writes them (``torch.save(model.state_dict())`` of a model that may
be wrapped in ``nn.DataParallel``), with DTRB's names (``convert.DTRB_RENAMES`` read backwards) and DTRB's stored TPS
constants; numerical parity with DTRB's own code is tests/test_dtrb_parity.py."""

from __future__ import annotations

import builtins
import pickle
import time

import numpy as np
import onnxruntime as ort
import pytest
import torch

from starnet_trt.cli import main
from starnet_trt.convert import DTRB_CHARSET, DTRB_RENAMES, convert_dtrb, load_dtrb_state
from starnet_trt.model import build_model


def _dtrb_name(ours: str) -> str:
    for theirs, prefix in DTRB_RENAMES:
        if ours.startswith(prefix):
            return theirs + ours[len(prefix) :]
    raise AssertionError(f"no DTRB name for {ours}")


def _tps_constants() -> dict[str, torch.Tensor]:
    """DTRB's GridGenerator buffers, built as DTRB builds them (float64 NumPy, stored as float32)."""
    from starnet_trt.model.tps import fiducial_points, output_points

    c = fiducial_points(20)
    hat_c = np.linalg.norm(c[None] - c[:, None], axis=2) + np.eye(20)
    hat_c = hat_c**2 * np.log(hat_c)
    delta = np.block([[np.ones((20, 1)), c, hat_c], [np.zeros((2, 3)), c.T], [np.zeros((1, 3)), np.ones((1, 20))]])
    p = output_points(32, 100)
    r = np.linalg.norm(p[:, None] - c[None], axis=2)
    p_hat = np.concatenate([np.ones((3200, 1)), p, r**2 * np.log(r + 1e-6)], axis=1)
    return {
        "Transformation.GridGenerator.inv_delta_C": torch.tensor(np.linalg.inv(delta)).float(),
        "Transformation.GridGenerator.P_hat": torch.tensor(p_hat).float(),
    }


def _dtrb_state(model, prefix: str = "") -> dict[str, torch.Tensor]:
    state = {prefix + _dtrb_name(k): v.clone() for k, v in model.state_dict().items()}
    state.update({prefix + k: v for k, v in _tps_constants().items()})
    return state


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("dtrb_trbc").eval()
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name.endswith("running_var"):
                p.uniform_(0.5, 1.5)
            elif p.dtype.is_floating_point and "fc2" not in name:
                p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path_factory.mktemp("dtrb") / "TPS-ResNet-BiLSTM-CTC.pth"
    torch.save(_dtrb_state(model, "module."), path)  # DTRB's train.py saves the DataParallel wrapper's names
    return model, path


def test_cli_round_trip_to_onnx_matches_the_model(trained, tmp_path, capsys):
    model, path = trained
    out = tmp_path / "dtrb.onnx"
    started = time.perf_counter()
    assert main(["convert", "--dtrb", str(path), "--out", str(out)]) == 0
    print(f"\nconvert --dtrb (49M parameters) took {time.perf_counter() - started:.1f} s")
    assert "dtrb_trbc" in capsys.readouterr().out
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1, 32, 100)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert got.shape == (3, 26, 37)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["starnet.arch"] == "dtrb_trbc" and meta["character"] == "\n".join(DTRB_CHARSET)


def test_plain_and_dataparallel_state_dicts_load_the_same(trained, tmp_path):
    model, prefixed = trained
    plain = tmp_path / "plain.pth"
    torch.save(_dtrb_state(model), plain)
    a, _, _ = convert_dtrb(prefixed)
    b, _, _ = convert_dtrb(plain)
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    assert torch.equal(a.state_dict()["head.weight"], model.state_dict()["head.weight"])
    assert all(not k.startswith("module.") for k in load_dtrb_state(prefixed))


def test_class_count_comes_from_the_head_and_the_charset_must_fit(tmp_path):
    model = build_model("dtrb_trbc", num_classes=96).eval()  # DTRB --sensitive: string.printable[:-6], 94 + blank
    path = tmp_path / "sensitive.pth"
    torch.save(_dtrb_state(model), path)
    with pytest.raises(ValueError, match="96 classes but the charset has 36"):
        convert_dtrb(path)
    chars = "".join(chr(c) for c in range(33, 128))  # 95 characters
    converted, charset, _ = convert_dtrb(path, charset=chars)
    assert converted.num_classes == 96 and charset == chars
    out = tmp_path / "s.onnx"
    assert main(["convert", "--dtrb", str(path), "--characters", chars, "--out", str(out)]) == 0
    assert out.is_file()


def test_missing_unexpected_and_misshaped_names_are_all_listed(trained, tmp_path):
    model, _ = trained
    state = _dtrb_state(model, "module.")
    state.pop("module.SequenceModeling.1.rnn.weight_hh_l0_reverse")
    state["module.FeatureExtraction.ConvNet.extra.weight"] = torch.zeros(3)
    state["module.FeatureExtraction.ConvNet.conv0_1.weight"] = torch.zeros(32, 3, 3, 3)  # an RGB (--rgb) model
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError) as err:
        convert_dtrb(path)
    message = str(err.value)
    assert "missing SequenceModeling.1.rnn.weight_hh_l0_reverse" in message
    assert "unexpected FeatureExtraction.ConvNet.extra.weight" in message
    assert "FeatureExtraction.ConvNet.conv0_1.weight: shape (32, 3, 3, 3), expected (32, 1, 3, 3)" in message


def test_other_dtrb_variants_are_refused_by_name(trained, tmp_path):
    model, _ = trained
    state = _dtrb_state(model)
    attn = dict(state, **{"Prediction.attention_cell.rnn.weight_ih": torch.zeros(4, 4)})
    torch.save(attn, tmp_path / "attn.pth")
    with pytest.raises(ValueError, match=r"attention .*only the CTC variant"):
        convert_dtrb(tmp_path / "attn.pth")
    no_tps = {k: v for k, v in state.items() if not k.startswith("Transformation.")}
    torch.save(no_tps, tmp_path / "none.pth")
    with pytest.raises(ValueError, match="no Transformation"):
        convert_dtrb(tmp_path / "none.pth")
    other_grid = dict(state)
    other_grid["Transformation.GridGenerator.P_hat"] = state["Transformation.GridGenerator.P_hat"] * 1.01
    torch.save(other_grid, tmp_path / "grid.pth")
    with pytest.raises(ValueError, match="TPS constants give a grid matrix"):
        convert_dtrb(tmp_path / "grid.pth")


class _CreatesMarker:
    """Unpickling this would call open(marker, "w"), creating the file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


@pytest.mark.parametrize("container", ["torch-zip", "raw-pickle"])
def test_malicious_pth_executes_nothing(tmp_path, container):
    marker = tmp_path / "pwned"
    evil = {"Prediction.weight": torch.zeros(37, 256), "payload": _CreatesMarker(marker)}
    path = tmp_path / "evil.pth"
    if container == "torch-zip":
        torch.save(evil, path)
    else:  # a plain pickle (torch.load's legacy format); a tensor in it would be refused before the payload
        path.write_bytes(pickle.dumps({"Prediction.weight": [0.0], "payload": evil["payload"]}, protocol=2))
    assert not marker.exists()
    with pytest.raises(ValueError, match=r"refused by torch\.load\(weights_only=True\).*nothing was executed.*open"):
        convert_dtrb(path)
    assert not marker.exists(), "loading the checkpoint ran code from it"
    assert main(["convert", "--dtrb", str(path), "--out", str(tmp_path / "x.onnx")]) == 2
    assert not marker.exists() and not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (None, FileNotFoundError, "checkpoint not found"),
        (b"", ValueError, "not a loadable PyTorch checkpoint"),
        (b"not a checkpoint at all", ValueError, "not a loadable PyTorch checkpoint|refused"),
        ("list", ValueError, "expected a DTRB state dict"),
        ("non-tensor", ValueError, "expected a tensor"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, content, error, message):
    path = tmp_path / "x.pth"
    if content == "list":
        torch.save([torch.zeros(1)], path)
    elif content == "non-tensor":
        torch.save({"Prediction.weight": 3}, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=message):
        convert_dtrb(path)


def test_cli_sources_are_exclusive(tmp_path, capsys):
    assert main(["convert", "--paddle", "a.pdparams", "--dtrb", "b.pth", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["convert", "--dtrb", "b.pth", "--arch", "starnet_mv3", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "--arch goes with --paddle" in capsys.readouterr().err
