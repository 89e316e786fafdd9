"""Checkpoint files: what the trainer writes and the exporter reads.

A checkpoint is a dict saved with ``torch.save``: ``{"format": "starnet-trt-checkpoint", "arch", "charset",
"model": state_dict, ...}``. Only plain containers, strings, numbers and tensors go in, so every load uses
``torch.load(weights_only=True)``: a model file from the internet can never execute code here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import limits
from ..atomic import atomic_write_path
from ..metadata import DEFAULT_CHARSET

CHECKPOINT_FORMAT = "starnet-trt-checkpoint"


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temp file + fsync + rename): an interrupted save never leaves a torn file."""
    import torch

    payload = {"format": CHECKPOINT_FORMAT, **payload}
    with atomic_write_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint safely; raises ``FileNotFoundError``/``ValueError`` with what was expected."""

    import torch

    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    limits.check_file_size(path, limits.MAX_CHECKPOINT_BYTES, "checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # A corrupt file surfaces as whatever torch's zip/pickle readers trip over, and fuzzing kept finding new
        # types (struct.error, BadZipFile, then AssertionError from _rebuild_tensor_v2): one documented error for
        # all of them, as convert.load_dtrb_state does. Nothing from the file is executed (weights_only).
        raise ValueError(
            f"{path}: not a loadable weights-only PyTorch checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        return data
    if isinstance(data, dict) and data and all(hasattr(v, "shape") for v in data.values()):
        # A bare state_dict (e.g. saved by a user's own loop): arch must come from the caller.
        return {"format": CHECKPOINT_FORMAT, "model": data, "arch": None, "charset": DEFAULT_CHARSET}
    raise ValueError(f"{path}: expected a starnet-trt checkpoint or a state_dict, got {type(data).__name__}")


def model_from_checkpoint(ckpt: dict[str, Any], arch: str | None = None):
    """Build the model a checkpoint describes and load its weights (strict: every name must match)."""
    from .starnet import build_model

    arch = arch or ckpt.get("arch")
    if arch is None:
        raise ValueError("the checkpoint does not record its architecture: pass --arch")
    if ckpt.get("arch") not in (None, arch):
        raise ValueError(f"checkpoint was trained as {ckpt['arch']!r} but --arch {arch!r} was given")
    charset = ckpt.get("charset") or DEFAULT_CHARSET
    model = build_model(arch, num_classes=len(charset) + 1)
    state = ckpt["model"]
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"checkpoint does not match {arch}: missing {result.missing_keys[:10]}, "
            f"unexpected {result.unexpected_keys[:10]}"
        )
    return model, charset
