"""``starnet-trt convert``: PaddleOCR v2.0 STAR-Net checkpoints (``.pdparams``) to clean ONNX, without Paddle.

PaddleOCR cannot export its TPS models to ONNX (the grid generator puts a matrix inverse and dynamically built
constants into the graph). starnet-trt maps every tensor of the checkpoint onto its PyTorch reference model
(``starnet_trt/model``, names in ``model/paddle_names.py``: Linear weights transposed, BatchNorm statistics
renamed, LSTM gates already in PyTorch's i, f, g, o order) and exports that, with the TPS folded into one matrix.

Loading is safe: a ``.pdparams`` file is a pickle, and it is read with an unpickler that admits only plain
containers and NumPy arrays. Anything else in the file (a function to call, a class to build) is refused before
it runs. The variant is inferred from the tensors (TPS ``large``/``small`` from the first localization conv,
MobileNetV3 or ResNet34_vd from the parameter names, the class count from the CTC head), and a checkpoint that
does not match exactly fails with the list of missing and unexpected names.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAX_PDPARAMS_BYTES = 2 * 1024**3  # ResNet34_vd STAR-Net is ~90 MB; refuse anything absurd before reading it
PADDLE_META_KEYS = ("StructuredToParameterName@@",)  # paddle.save bookkeeping, not a tensor

# (module, name) pairs a Paddle state_dict pickle may reference: NumPy array reconstruction and containers.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles spell bytes as encode(str, "latin1"); it only builds bytes
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: a PaddleOCR checkpoint holds only NumPy arrays and plain containers"
        )


def load_pdparams(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The tensors of a Paddle ``.pdparams`` file (``paddle.save(layer.state_dict())``), loaded safely.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a Paddle state dict, too large, or it references anything but NumPy arrays and plain
            containers (nothing from the file is executed).
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    if size > MAX_PDPARAMS_BYTES:
        raise ValueError(f"{path}: {size} bytes is more than any STAR-Net checkpoint ({MAX_PDPARAMS_BYTES} max)")
    data = path.read_bytes()
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: not a loadable Paddle checkpoint ({exc})") from None
    except Exception as exc:  # truncated or corrupt pickles raise all kinds of errors
        raise ValueError(f"{path}: not a loadable Paddle checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a Paddle state dict (name -> array), got {type(obj).__name__}")
    tensors: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if key in PADDLE_META_KEYS:
            continue
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise ValueError(f"{path}: entry {key!r} is a {type(value).__name__}, expected a NumPy array")
        tensors[key] = value
    if not tensors:
        raise ValueError(f"{path}: the checkpoint holds no tensors")
    return tensors


def infer_arch(tensors: dict[str, np.ndarray]) -> tuple[str, str, int]:
    """``(arch, tps model_name, num_classes)`` from the tensors of a PaddleOCR STAR-Net checkpoint."""
    loc0 = tensors.get("transform.loc_net.loc_conv0.conv.weight")
    if loc0 is None:
        raise ValueError("no TPS localization network (transform.loc_net.*): not a STAR-Net (TPS) checkpoint")
    tps = {64: "large", 16: "small"}.get(int(loc0.shape[0]))
    if tps is None:
        raise ValueError(f"TPS localization conv has {loc0.shape[0]} filters; STAR-Net uses 16 (small) or 64 (large)")
    if any(k.startswith("backbone.bb_") for k in tensors) and "backbone.conv1_1._conv.weight" in tensors:
        arch = "starnet_r34_vd"
    elif any(k.startswith("backbone.blocks.") for k in tensors) and "backbone.conv1.conv.weight" in tensors:
        arch = "starnet_mv3"
    else:
        raise ValueError("the backbone is neither PaddleOCR's MobileNetV3 nor ResNet34_vd (rec variants)")
    head = tensors.get("head.fc.weight")
    if head is None or head.ndim != 2:
        raise ValueError("no CTC head (head.fc.weight): not a CTC recognizer checkpoint")
    return arch, tps, int(head.shape[1])


def read_char_dict(path: str | os.PathLike[str], use_space_char: bool) -> str:
    """PaddleOCR's character dictionary: one character per line (``use_space_char`` appends a space)."""
    chars = []
    for line in Path(os.fspath(path)).read_text(encoding="utf-8").splitlines():
        line = line.rstrip("\r\n")
        if len(line) != 1:
            raise ValueError(f"{path}: every line must hold one character, got {line!r}")
        chars.append(line)
    if use_space_char:
        chars.append(" ")
    if len(set(chars)) != len(chars):
        raise ValueError(f"{path}: repeated characters in the dictionary")
    return "".join(chars)


def convert_paddle(
    path: str | os.PathLike[str], *, arch: str = "auto", charset: str | None = None
) -> tuple[Any, str, dict[str, str]]:
    """PyTorch reference model with the checkpoint's weights: ``(model, charset, metadata)``.

    Raises:
        ValueError: Unsafe or unreadable file, not a STAR-Net checkpoint, a name or shape that does not match
            (the message lists them), or a charset that does not fit the head's class count.
    """
    import torch

    from .metadata import DEFAULT_CHARSET
    from .model import build_model
    from .model.paddle_names import PADDLE_ONLY, paddle_name_table

    tensors = load_pdparams(path)
    for alias, cell in _lstm_aliases(tensors):
        tensors.setdefault(cell, tensors[alias])  # a checkpoint with only the flattened LSTM names
    found, tps, classes = infer_arch(tensors)
    if arch not in ("auto", found):
        raise ValueError(f"the checkpoint is {found} (from its tensors), not {arch}")
    expected_tps = "large" if found == "starnet_r34_vd" else "small"
    if tps != expected_tps:
        raise ValueError(f"{found} uses the {expected_tps} TPS in PaddleOCR's config; this checkpoint has a {tps} one")
    charset = DEFAULT_CHARSET if charset is None else charset
    if len(charset) + 1 != classes:
        raise ValueError(
            f"the CTC head has {classes} classes but the charset has {len(charset)} characters (+1 blank): pass "
            f"--char-dict (and --use-space-char if the model was trained with it)"
        )
    model = build_model(found, num_classes=classes)
    state = OrderedDict()
    problems: list[str] = []
    used: set[str] = set()
    reference = model.state_dict()
    for mapping in paddle_name_table(model):
        value = tensors.get(mapping.paddle_name)
        if value is None:
            problems.append(f"missing {mapping.paddle_name}")
            continue
        used.add(mapping.paddle_name)
        array = value.T if mapping.transpose else value
        want = tuple(reference[mapping.torch_name].shape)
        if tuple(array.shape) != want:
            problems.append(f"{mapping.paddle_name}: shape {tuple(value.shape)}, expected {want}")
            continue
        state[mapping.torch_name] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    for alias, cell in _lstm_aliases(tensors):
        # Paddle's nn.LSTM saves each weight twice (the cell's and a flattened alias sharing its storage).
        if cell in used and not np.array_equal(tensors[alias], tensors[cell]):
            problems.append(f"{alias} differs from {cell}, which it should alias")
        used.add(alias)
    unexpected = sorted(set(tensors) - used - set(PADDLE_ONLY))
    problems += [f"unexpected {name}" for name in unexpected]
    if problems:
        shown = "; ".join(problems[:12]) + (f"; ... ({len(problems)} in all)" if len(problems) > 12 else "")
        raise ValueError(f"{path}: does not match PaddleOCR's {found}: {shown}")
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"internal mapping error: missing {missing[:5]}, unexpected {result.unexpected_keys[:5]}")
    model.eval()
    meta = {"starnet.converted_from": f"PaddleOCR {Path(os.fspath(path)).name}", "starnet.training_data": "PaddleOCR"}
    return model, charset, meta


_LSTM_ALIAS = re.compile(r"(neck\.encoder\.lstm)\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")


def _lstm_aliases(tensors: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """(flattened alias, cell name) pairs of Paddle's nn.LSTM parameters present in ``tensors``."""
    pairs = []
    for name in tensors:
        m = _LSTM_ALIAS.fullmatch(name)
        if m:
            cell = f"{m.group(1)}.{m.group(3)}.{'cell_bw' if m.group(4) else 'cell_fw'}.{m.group(2)}"
            pairs.append((name, cell))
    return pairs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paddle", required=True, metavar="PDPARAMS", help="PaddleOCR v2.0 training checkpoint")
    parser.add_argument("--arch", choices=("auto", "starnet_mv3", "starnet_r34_vd"), default="auto")
    parser.add_argument("--char-dict", help="PaddleOCR character dictionary (default: 0-9a-z, as STAR-Net v2.0)")
    parser.add_argument("--use-space-char", action="store_true", help="the model was trained with a space class")
    parser.add_argument("--out", required=True, help="output .onnx path")


def run(args: argparse.Namespace) -> int:
    import time

    from .export import export_model

    started = time.perf_counter()
    charset = read_char_dict(args.char_dict, args.use_space_char) if args.char_dict else None
    if charset is None and args.use_space_char:
        raise ValueError("--use-space-char goes with --char-dict")
    model, charset, meta = convert_paddle(args.paddle, arch=args.arch, charset=charset)
    out = export_model(model, args.out, charset=charset, extra_metadata=meta)
    print(f"wrote {out} ({model.arch}, {len(charset)} characters) in {time.perf_counter() - started:.1f} s")
    return 0
