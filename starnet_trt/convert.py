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

DTRB (clovaai/deep-text-recognition-benchmark) ``TPS-ResNet-BiLSTM-CTC.pth`` state dicts become the ``dtrb_trbc``
architecture (``model/dtrb.py``): loaded with ``torch.load(weights_only=True)`` (tensors and plain containers
only), ``module.`` prefixes of ``nn.DataParallel`` removed, names mapped by ``DTRB_RENAMES``, the class count read
from the CTC head, and DTRB's precomputed TPS constants (``GridGenerator.P_hat``/``inv_delta_C``) checked against
our folded grid matrix instead of being loaded.
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

from . import limits

log = logging.getLogger(__name__)

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
    limits.check_file_size(path, limits.MAX_CHECKPOINT_BYTES, "PaddleOCR checkpoint")
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


# DTRB state-dict name prefix -> ours (model/dtrb.py); the rest of each name is the same on both sides.
DTRB_RENAMES = (
    ("Transformation.LocalizationNetwork.conv.", "transform.loc_net.conv."),
    ("Transformation.LocalizationNetwork.localization_fc1.0.", "transform.loc_net.fc1."),
    ("Transformation.LocalizationNetwork.localization_fc2.", "transform.loc_net.fc2."),
    ("FeatureExtraction.ConvNet.", "backbone."),
    ("SequenceModeling.", "neck."),
    ("Prediction.", "head."),
)
DTRB_GRID_CONSTANTS = ("Transformation.GridGenerator.P_hat", "Transformation.GridGenerator.inv_delta_C")
DTRB_CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"  # DTRB's --character default (case-insensitive models)


def load_dtrb_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The tensors of a DTRB ``.pth`` (``torch.save(model.state_dict())``), ``module.`` prefixes removed.

    Loaded with ``torch.load(weights_only=True)``: only tensors and plain containers are rebuilt, nothing in the
    file is executed.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Too large, not loadable as weights only (e.g. a pickle that would run code), or not a state
            dict of tensors.
    """
    import torch

    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    limits.check_file_size(path, limits.MAX_CHECKPOINT_BYTES, "DTRB checkpoint")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a page of advice; the reason is the "WeightsUnpickler error: ..." sentence in it.
        reason = re.search(r"WeightsUnpickler error: (.*?\.)(?:\s|$)", str(exc))
        first = reason.group(1) if reason else (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(
            f"{path}: refused by torch.load(weights_only=True), which admits only tensors and plain containers "
            f"(nothing was executed): {first}"
        ) from None
    except Exception as exc:  # truncated zip archives, garbage bytes, ...
        raise ValueError(f"{path}: not a loadable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{path}: expected a DTRB state dict (name -> tensor), got {type(obj).__name__}")
    state: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(f"{path}: entry {key!r} is a {type(value).__name__}, expected a tensor")
        state[key[len("module.") :] if key.startswith("module.") else key] = value
    return state


def _dtrb_name(name: str) -> str | None:
    for theirs, ours in DTRB_RENAMES:
        if name.startswith(theirs):
            return ours + name[len(theirs) :]
    return None


def convert_dtrb(path: str | os.PathLike[str], *, charset: str | None = None) -> tuple[Any, str, dict[str, str]]:
    """``dtrb_trbc`` reference model with a DTRB TPS-ResNet-BiLSTM-CTC checkpoint's weights: ``(model, charset,
    metadata)``.

    Raises:
        ValueError: Unsafe or unreadable file, another DTRB variant (no TPS, VGG/RCNN, attention), a name or shape
            that does not match (the message lists them), or a charset that does not fit the head.
    """
    import torch

    from .model import build_model
    from .model.dtrb import DTRB_FIDUCIALS, DTRB_RBF_EPS, DTRB_SIZE
    from .model.tps import tps_grid_matrix

    state = load_dtrb_state(path)
    if not any(k.startswith("Transformation.") for k in state):
        raise ValueError(f"{path}: no Transformation.* tensors: only DTRB's TPS-ResNet-BiLSTM-CTC is supported")
    if any(k.startswith("Prediction.attention_cell") for k in state):
        raise ValueError(f"{path}: an attention (Attn) prediction head: only the CTC variant is supported")
    head = state.get("Prediction.weight")
    if head is None or head.ndim != 2:
        raise ValueError(f"{path}: no CTC head (Prediction.weight [classes, hidden]): not a DTRB CTC checkpoint")
    lstm = state.get("SequenceModeling.0.rnn.weight_hh_l0")
    hidden = int(lstm.shape[1]) if lstm is not None and lstm.ndim == 2 else 256
    classes = int(head.shape[0])
    charset = DTRB_CHARSET if charset is None else charset
    if len(charset) + 1 != classes:
        raise ValueError(
            f"the CTC head has {classes} classes but the charset has {len(charset)} characters (+1 blank): pass the "
            f"training --character set with --characters (or --char-dict)"
        )
    from .model.starnet import ARCHS

    if hidden != ARCHS["dtrb_trbc"].hidden:
        raise ValueError(f"{path}: BiLSTM hidden size {hidden}; dtrb_trbc is DTRB's default, 256")
    model = build_model("dtrb_trbc", num_classes=classes)
    reference = model.state_dict()
    problems: list[str] = []
    mapped = OrderedDict()
    for name, value in state.items():
        if name in DTRB_GRID_CONSTANTS:
            continue
        ours = _dtrb_name(name)
        if ours is None or ours not in reference:
            problems.append(f"unexpected {name}")
        elif tuple(value.shape) != tuple(reference[ours].shape):
            problems.append(f"{name}: shape {tuple(value.shape)}, expected {tuple(reference[ours].shape)}")
        else:
            mapped[ours] = value
    theirs = {ours: theirs for theirs, ours in ((n, _dtrb_name(n)) for n in state) if ours}
    for name in reference:
        if name not in mapped and name not in theirs:
            problems.append(f"missing {_dtrb_source_name(name)}")
    problems += _check_dtrb_grid(state, tps_grid_matrix(DTRB_FIDUCIALS, *DTRB_SIZE, eps=DTRB_RBF_EPS))
    if problems:
        shown = "; ".join(problems[:12]) + (f"; ... ({len(problems)} in all)" if len(problems) > 12 else "")
        raise ValueError(f"{path}: does not match DTRB's TPS-ResNet-BiLSTM-CTC: {shown}")
    model.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in mapped.items()})
    model.eval()
    meta = {"starnet.converted_from": f"DTRB {Path(os.fspath(path)).name}", "starnet.training_data": "DTRB"}
    return model, charset, meta


def _dtrb_source_name(ours: str) -> str:
    for theirs, prefix in DTRB_RENAMES:
        if ours.startswith(prefix):
            return theirs + ours[len(prefix) :]
    return ours


def _check_dtrb_grid(state: dict[str, Any], folded: np.ndarray) -> list[str]:
    """DTRB stores its TPS constants; they must give our grid matrix (same F, output size and eps)."""
    p_hat = state.get(DTRB_GRID_CONSTANTS[0])
    inv = state.get(DTRB_GRID_CONSTANTS[1])
    if p_hat is None or inv is None:
        return []  # older DTRB code kept them out of the state dict; ours are computed from the architecture
    f = folded.shape[1]
    if tuple(p_hat.shape) != (folded.shape[0], f + 3) or tuple(inv.shape) != (f + 3, f + 3):
        return [
            f"TPS constants P_hat {tuple(p_hat.shape)} / inv_delta_C {tuple(inv.shape)}: expected "
            f"{(folded.shape[0], f + 3)} / {(f + 3, f + 3)} (20 fiducials, 32x100 input)"
        ]
    theirs = p_hat.double().numpy() @ inv.double().numpy()[:, :f]
    err = float(np.abs(theirs - folded).max())
    if err > 1e-3:
        return [f"TPS constants give a grid matrix {err:.2e} away from DTRB's 32x100 F=20 one"]
    return []


def read_characters(text: str) -> str:
    """A DTRB ``--character`` string: distinct characters, blank not included."""
    if not text:
        raise ValueError("--characters: expected at least one character, got an empty string")
    if len(set(text)) != len(text):
        raise ValueError(f"--characters: repeated characters in {text!r}")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--paddle", metavar="PDPARAMS", help="PaddleOCR v2.0 STAR-Net training checkpoint")
    source.add_argument("--dtrb", metavar="PTH", help="DTRB TPS-ResNet-BiLSTM-CTC state dict (.pth)")
    parser.add_argument(
        "--arch", choices=("auto", "starnet_mv3", "starnet_r34_vd"), default="auto", help="--paddle only"
    )
    parser.add_argument("--char-dict", help="character dictionary, one per line (default: 0-9a-z, as both use)")
    parser.add_argument("--use-space-char", action="store_true", help="the model was trained with a space class")
    parser.add_argument("--characters", help="--dtrb: the training --character string (default 0-9a-z)")
    parser.add_argument("--out", required=True, help="output .onnx path")


def run(args: argparse.Namespace) -> int:
    import time

    from .export import export_model

    started = time.perf_counter()
    if args.characters is not None and (args.paddle or args.char_dict):
        raise ValueError("--characters goes with --dtrb and replaces --char-dict")
    if args.dtrb and args.arch != "auto":
        raise ValueError("--arch goes with --paddle; a DTRB checkpoint is always dtrb_trbc")
    charset = read_char_dict(args.char_dict, args.use_space_char) if args.char_dict else None
    if charset is None and args.use_space_char:
        raise ValueError("--use-space-char goes with --char-dict")
    if args.dtrb:
        charset = read_characters(args.characters) if args.characters is not None else charset
        model, charset, meta = convert_dtrb(args.dtrb, charset=charset)
    else:
        model, charset, meta = convert_paddle(args.paddle, arch=args.arch, charset=charset)
    out = export_model(model, args.out, charset=charset, extra_metadata=meta)
    print(f"wrote {out} ({model.arch}, {len(charset)} characters) in {time.perf_counter() - started:.1f} s")
    return 0
