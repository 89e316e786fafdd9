"""Export a STAR-Net checkpoint to a self-describing ONNX model (``starnet-trt export``).

The graph takes ``x`` float32 ``[N,3,32,100]`` (dynamic batch) and returns ``probs`` ``[N,25,classes]``
(softmax). The TPS grid is one constant MatMul followed by GridSample (opset >= 16), so ONNX Runtime and
TensorRT take it as is. We use PyTorch's TorchScript-based exporter (``dynamo=False``): the dynamo exporter
fixes the LSTM sequence length and ignores opset 17.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import os
import warnings
from pathlib import Path

from .atomic import atomic_write_path
from .metadata import ModelInfo, Preprocess

log = logging.getLogger(__name__)
DEFAULT_OPSET = 17


def export_model(
    model,
    out: str | os.PathLike[str],
    *,
    charset: str,
    opset: int = DEFAULT_OPSET,
    extra_metadata: dict[str, str] | None = None,
    check: bool = True,
) -> Path:
    """Export a :class:`~starnet_trt.model.StarNet` to ONNX with metadata; returns the written path.

    Example:
        >>> from starnet_trt.model import build_model
        >>> from starnet_trt.metadata import DEFAULT_CHARSET
        >>> export_model(build_model("starnet_mv3"), "mv3.onnx", charset=DEFAULT_CHARSET)  # doctest: +SKIP
    """
    import onnx
    import torch

    if opset < 17:
        raise ValueError(f"opset must be >= 17 (GridSample and LayerNorm-era exporters), got {opset}")
    if len(charset) + 1 != model.num_classes:
        raise ValueError(
            f"charset has {len(charset)} characters (+1 blank) but the model has {model.num_classes} classes"
        )
    out = Path(os.fspath(out))
    model = model.eval().float()
    h, w = model.size
    # PaddleOCR STAR-Nets take 3 BGR planes; DTRB models carry their own (1-channel gray, stretched) preprocessing.
    preprocess = getattr(model, "preprocess", None) or Preprocess(height=h, width=w)
    dummy = torch.zeros(2, preprocess.channels, h, w)
    info = ModelInfo(
        charset=charset,
        arch=model.arch,
        preprocess=preprocess,
        extra={
            "starnet.exported": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "starnet.exporter": f"starnet-trt {_package_version()} / torch {torch.__version__}",
            **(extra_metadata or {}),
        },
    )
    with atomic_write_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript tracer chatter about LSTM/batch_first; the checks below verify
        torch.onnx.export(
            model,
            (dummy,),
            str(tmp),
            input_names=["x"],
            output_names=["probs"],
            dynamic_axes={"x": {0: "batch"}, "probs": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
        proto = onnx.load(str(tmp))
        # The tracer cannot see through the LSTM, so it leaves the time axis symbolic; it is fixed by the
        # architecture (width / 4), and consumers (IOBinding buffers, TensorRT profiles) want it concrete.
        with torch.no_grad():
            t_steps, classes = model(dummy).shape[1:]
        dims = proto.graph.output[0].type.tensor_type.shape.dim
        dims[1].ClearField("dim_param")
        dims[1].dim_value = int(t_steps)
        dims[2].ClearField("dim_param")
        dims[2].dim_value = int(classes)
        proto.doc_string = f"{model.arch} exported by starnet-trt"
        del proto.metadata_props[:]
        for key, value in sorted(info.to_props().items()):
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        if check:
            onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(tmp))
    return out


def training_metadata(ckpt: dict) -> dict[str, str]:
    """Model-metadata entries of a training checkpoint: data, samples, steps and hours, summed over the earlier
    stages it was initialized from (train.py's ``init_*`` lineage fields) when it has them."""
    from .train import stage_totals

    totals = stage_totals(ckpt)
    extra: dict[str, str] = {}
    if totals["training_data"]:
        extra["starnet.training_data"] = totals["training_data"]
    for key in ("samples_seen", "step"):
        if key in ckpt:
            extra[f"starnet.{key}"] = str(totals[key])
    if "train_seconds" in ckpt:
        extra["starnet.train_hours"] = f"{totals['train_seconds'] / 3600:.2f}"
    if "init_weights" in ckpt:
        extra["starnet.stages"] = f"fine-tuned from {ckpt['init_weights']} at step {int(ckpt.get('init_step', 0))}"
    return extra


def _package_version() -> str:
    from . import __version__

    return __version__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="starnet-trt training checkpoint or weights-only resume file (.pt)")
    parser.add_argument(
        "--arch", choices=["starnet_mv3", "starnet_r34_vd"], help="architecture (default: from checkpoint)"
    )
    parser.add_argument(
        "--random-weights", action="store_true", help="export freshly initialized weights (tests, timing)"
    )
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--seed", type=int, default=0, help="seed for --random-weights")


def run(args: argparse.Namespace) -> int:
    import torch

    from .model import build_model
    from .model.checkpoint import load_checkpoint, model_from_checkpoint

    extra: dict[str, str] = {}
    if args.random_weights == bool(args.checkpoint):
        raise ValueError("give exactly one of --checkpoint CKPT or --random-weights")
    if args.checkpoint:
        ckpt = load_checkpoint(args.checkpoint)
        model, charset = model_from_checkpoint(ckpt, args.arch)
        extra.update(training_metadata(ckpt))
    else:
        if not args.arch:
            raise ValueError("--random-weights needs --arch")
        torch.manual_seed(args.seed)
        model = build_model(args.arch)
        charset = "0123456789abcdefghijklmnopqrstuvwxyz"
        extra["starnet.weights"] = "random"
    path = export_model(model, args.out, charset=charset, opset=args.opset, extra_metadata=extra)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
