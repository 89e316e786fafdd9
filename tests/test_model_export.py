"""Reference model and ONNX export: structure, TPS folding, ORT == PyTorch, metadata, TensorRT-RTX parse."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from starnet_trt.metadata import DEFAULT_CHARSET, ModelInfo  # noqa: E402
from starnet_trt.model import build_model  # noqa: E402
from starnet_trt.model.tps import fiducial_points, output_points, tps_grid_matrix  # noqa: E402

ARCHS = ["starnet_mv3", "starnet_r34_vd"]


def _randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights (PyTorch's random init), random BN affine and statistics and a non-trivial TPS.

    The perturbation keeps activations at a trained network's scale: cranking every weight up makes the
    34-layer variant's logits huge, and then float32 rounding alone moves softmax outputs by > 1e-4.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(0.8 + 0.4 * torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
        model.transform.loc_net.fc2.weight.copy_(
            0.02 * torch.randn(model.transform.loc_net.fc2.weight.shape, generator=g)
        )
    return model.eval()


@pytest.fixture(scope="module", params=ARCHS)
def exported(request, tmp_path_factory):
    from starnet_trt.export import export_model

    model = _randomize(build_model(request.param))
    path = tmp_path_factory.mktemp("export") / f"{request.param}.onnx"
    export_model(model, path, charset=DEFAULT_CHARSET)
    return model, path


def test_output_shapes_and_sizes():
    for arch, feat in (("starnet_mv3", 480), ("starnet_r34_vd", 512)):
        model = build_model(arch).eval()
        with torch.no_grad():
            x = torch.zeros(2, 3, 32, 100)
            assert model.backbone(x).shape == (2, feat, 1, 25)
            probs = model(x)
        assert probs.shape == (2, 25, 37)
        np.testing.assert_allclose(probs.sum(-1).numpy(), 1.0, rtol=1e-5)


def test_parameter_counts_match_paddle_structure():
    # Spot checks of shapes that Paddle checkpoints have (loc_conv0 [64|16,3,3,3], SE, LSTM input sizes).
    mv3 = build_model("starnet_mv3").state_dict()
    assert mv3["transform.loc_net.convs.0.conv.weight"].shape == (16, 3, 3, 3)
    assert mv3["transform.loc_net.fc1.weight"].shape == (64, 128)
    assert mv3["neck.weight_ih_l0"].shape == (4 * 96, 480)
    assert mv3["backbone.blocks.3.mid_se.conv1.weight"].shape == (10, 40, 1, 1)
    r34 = build_model("starnet_r34_vd").state_dict()
    assert r34["transform.loc_net.convs.0.conv.weight"].shape == (64, 3, 3, 3)
    assert r34["transform.loc_net.fc2.weight"].shape == (40, 256)
    assert r34["neck.weight_ih_l1_reverse"].shape == (4 * 256, 512)
    assert r34["backbone.blocks.15.conv1.conv.conv.weight"].shape == (512, 512, 3, 3)


def test_tps_identity_fiducials_give_identity_grid():
    # A TPS through its own base points is the identity: P' == P for C' == C. Independent of how A is built.
    a = tps_grid_matrix(20, 32, 100)
    grid = a @ fiducial_points(20)
    np.testing.assert_allclose(grid, output_points(32, 100), atol=1e-9)


def test_tps_matrix_equals_paddle_linear_solve():
    # Paddle: T = inv(delta_C) @ [C'; 0]; P' = P_hat @ T. Check our folded A against a solve, for random C'.
    from starnet_trt.model import tps

    f = 20
    c = fiducial_points(f)
    hat = np.linalg.norm(c[None] - c[:, None], axis=2) + np.eye(f)
    hat = hat**2 * np.log(hat)
    delta = np.block([[np.ones((f, 1)), c, hat], [np.zeros((2, 3)), c.T], [np.zeros((1, 3)), np.ones((1, f))]])
    c_prime = c + np.random.default_rng(0).normal(0, 0.1, c.shape)
    t = np.linalg.solve(delta, np.concatenate([c_prime, np.zeros((3, 2))]))
    p = tps.output_points(8, 12)
    r = np.linalg.norm(p[:, None] - c[None], axis=2)
    p_hat = np.concatenate([np.ones((len(p), 1)), p, r**2 * np.log(r + 1e-6)], axis=1)
    np.testing.assert_allclose(tps_grid_matrix(f, 8, 12) @ c_prime, p_hat @ t, atol=1e-9)


def test_onnx_matches_pytorch(exported):
    model, path = exported
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for n in (1, 7):
        x = rng.uniform(-1, 1, (n, 3, 32, 100)).astype(np.float32)
        got = sess.run(None, {"x": x})[0]
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        assert got.shape == (n, 25, 37)
        assert np.abs(got - want).max() < 1e-4


def test_onnx_graph_is_clean_and_self_describing(exported):
    model, path = exported
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert "GridSample" in ops and "LSTM" in ops
    assert not ops & {"Inverse", "If", "Loop"}, ops
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,) = proto.graph.input
    assert inp.name == "x"
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert in_dims == ["batch", 3, 32, 100]
    out_dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims == ["batch", 25, 37]
    info = ModelInfo.from_props({p.key: p.value for p in proto.metadata_props})
    assert info.charset == DEFAULT_CHARSET and info.arch == model.arch
    assert (info.preprocess.height, info.preprocess.width, info.preprocess.channel_order) == (32, 100, "bgr")


def test_tensorrt_rtx_parser_accepts_export(exported):
    trt = pytest.importorskip("tensorrt_rtx", reason="install the [rtx] extra (tensorrt-rtx-cu13)")
    _, path = exported
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse_from_file(str(path))
    assert ok, [parser.get_error(i).desc() for i in range(parser.num_errors)]
    assert tuple(network.get_output(0).shape) == (-1, 25, 37)


def test_export_rejects_charset_mismatch(tmp_path):
    from starnet_trt.export import export_model

    with pytest.raises(ValueError, match="charset"):
        export_model(build_model("starnet_mv3"), tmp_path / "m.onnx", charset="abc")


def test_paddle_name_table_covers_every_tensor_once():
    from starnet_trt.model.paddle_names import paddle_name_table

    for arch in ARCHS:
        model = build_model(arch)
        table = paddle_name_table(model)
        state = model.state_dict()
        assert {m.torch_name for m in table} == {k for k in state if not k.endswith("num_batches_tracked")}
        names = [m.paddle_name for m in table]
        assert len(names) == len(set(names)), "two tensors map to one Paddle name"
    r34 = {m.torch_name: m for m in paddle_name_table(build_model("starnet_r34_vd"))}
    assert (
        r34["backbone.blocks.15.conv1.conv.bn.running_var"].paddle_name == "backbone.bb_3_2.conv1._batch_norm._variance"
    )
    assert r34["backbone.blocks.3.short.conv.conv.weight"].paddle_name == "backbone.bb_1_0.short._conv.weight"
    assert r34["backbone.conv1_1.conv.bn.weight"].paddle_name == "backbone.conv1_1._batch_norm.weight"
    mv3 = {m.torch_name: m for m in paddle_name_table(build_model("starnet_mv3"))}
    assert mv3["neck.weight_hh_l1_reverse"].paddle_name == "neck.encoder.lstm.1.cell_bw.weight_hh"
    assert mv3["transform.loc_net.convs.2.bn.running_mean"].paddle_name == "transform.loc_net.loc_conv2.bn._mean"
    assert mv3["head.weight"].paddle_name == "head.fc.weight" and mv3["head.weight"].transpose
    assert mv3["backbone.blocks.12.mid_se.conv2.bias"].paddle_name == "backbone.blocks.12.mid_se.conv2.bias"


def test_checkpoint_roundtrip_and_export_cli(tmp_path):
    from starnet_trt.cli import main
    from starnet_trt.model.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint

    model = _randomize(build_model("starnet_mv3"), seed=3)
    ckpt = tmp_path / "w.pt"
    save_checkpoint(ckpt, {"arch": "starnet_mv3", "charset": DEFAULT_CHARSET, "model": model.state_dict()})
    loaded, _ = model_from_checkpoint(load_checkpoint(ckpt))
    x = torch.rand(2, 3, 32, 100)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), model(x))
    out = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        assert np.abs(sess.run(None, {"x": x.numpy()})[0] - model(x).numpy()).max() < 1e-4
    with pytest.raises(ValueError, match="arch"):
        model_from_checkpoint(load_checkpoint(ckpt), "starnet_r34_vd")


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_malicious_checkpoint_executes_nothing(tmp_path, monkeypatch):
    from starnet_trt.model.checkpoint import load_checkpoint

    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.pt"
    torch.save({"model": _Boom()}, bad, pickle_protocol=2, _use_new_zipfile_serialization=True)
    with pytest.raises(ValueError, match="weights-only"):
        load_checkpoint(bad)
    assert not (tmp_path / "PWNED").exists()
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ValueError):
        load_checkpoint(raw)
    assert not (tmp_path / "PWNED").exists()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError):
        load_checkpoint(trunc)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
