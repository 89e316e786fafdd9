"""Self-describing model metadata: what an ONNX file or engine needs to be used correctly.

Every artifact starnet-trt writes (ONNX ``metadata_props``, engine sidecars) carries the charset and the
preprocessing it was trained with, so a model never runs with the wrong decoding table or normalization.
The ``character`` key follows PP-OCR's convention (one character per line, blank not included); the
``starnet.*`` keys are ours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

DEFAULT_CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"

KEY_CHARACTER = "character"
KEY_ARCH = "starnet.arch"
KEY_PREPROCESS = "starnet.preprocess"
KEY_BLANK = "starnet.blank_index"
KEY_OUTPUT = "starnet.output"
KEY_FORMAT = "starnet.format_version"
FORMAT_VERSION = "1"
RESIZE_MODES = ("keep_ratio_pad_right", "stretch")


@dataclass(frozen=True)
class Preprocess:
    """How raw word images become the model input (PaddleOCR ``resize_norm_img`` semantics).

    Attributes:
        height: Input height in pixels.
        width: Input width in pixels (images narrower after keep-ratio resize are zero-padded on the right).
        channels: 3 for BGR models, 1 for gray models (DTRB).
        channel_order: Plane order the model expects, ``"bgr"`` (OpenCV's order) or ``"gray"``.
        scale: Multiplier applied to uint8 pixel values before mean/std.
        mean: Subtracted after scaling.
        std: Divisor after mean subtraction.
        resize: ``"keep_ratio_pad_right"`` (PaddleOCR ``resize_norm_img``): ``w' = min(ceil(h_out * w / h), width)``,
            pad value 0; 1-channel models take the BT.601 luma of the resized B, G, R values.
            ``"stretch"`` (DTRB's ``ResizeNormalize``): every image is resized to exactly ``width x height`` with
            PIL's bicubic (antialiased when shrinking), no padding; 1-channel models take PIL's ``convert("L")``
            gray *before* resizing (``(19595 R + 38470 G + 7471 B + 0x8000) >> 16``). Both are bit-exact with the
            libraries they name (``cv2.resize`` bilinear for the first).
    """

    height: int = 32
    width: int = 100
    channels: int = 3
    channel_order: str = "bgr"
    scale: float = 1.0 / 255.0
    mean: float = 0.5
    std: float = 0.5
    resize: str = "keep_ratio_pad_right"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def resize_kwargs(self) -> dict[str, int | str]:
        """The :func:`starnet_trt.ops.resize_normalize` arguments that reproduce this preprocessing."""
        return {
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "resize": self.resize,
            # DTRB (stretch) feeds PIL's convert("L") gray resized by PIL's bicubic; PaddleOCR-style models get cv2's
            # bilinear (and, when gray, BT.601 of the resized BGR).
            "gray": "pil" if self.resize == "stretch" and self.channels == 1 else "bt601",
            "interpolation": "pil_bicubic" if self.resize == "stretch" else "linear",
        }

    @classmethod
    def from_json(cls, text: str) -> Preprocess:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"model metadata '{KEY_PREPROCESS}' is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"model metadata '{KEY_PREPROCESS}' must be a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"model metadata '{KEY_PREPROCESS}' has unknown fields {sorted(unknown)}")
        pre = cls(**data)
        pre.validate()
        return pre

    def validate(self) -> None:
        if not (isinstance(self.height, int) and isinstance(self.width, int)) or self.height < 1 or self.width < 1:
            raise ValueError(f"preprocess height/width must be positive integers, got {self.height}x{self.width}")
        if self.channels not in (1, 3):
            raise ValueError(f"preprocess channels must be 1 or 3, got {self.channels}")
        if self.channel_order not in ("bgr", "gray"):
            raise ValueError(f"preprocess channel_order must be 'bgr' or 'gray', got {self.channel_order!r}")
        if (self.channel_order == "gray") != (self.channels == 1):
            raise ValueError("preprocess channel_order 'gray' goes with channels=1, 'bgr' with channels=3")
        if self.std == 0:
            raise ValueError("preprocess std must be non-zero")
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"preprocess resize mode {self.resize!r} is not supported")


@dataclass(frozen=True)
class ModelInfo:
    """Parsed model metadata.

    Attributes:
        charset: Characters for class indices 1..len(charset); index ``blank_index`` (0) is the CTC blank.
        arch: Architecture name (``starnet_mv3``, ``starnet_r34_vd``, ...).
        preprocess: Input preprocessing.
        blank_index: CTC blank class index.
        output: ``"probs"`` when the model ends in softmax, ``"logits"`` otherwise.
        extra: Other metadata entries, verbatim.
    """

    charset: str = DEFAULT_CHARSET
    arch: str = "starnet_mv3"
    preprocess: Preprocess = field(default_factory=Preprocess)
    blank_index: int = 0
    output: str = "probs"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.charset) + 1

    def to_props(self) -> dict[str, str]:
        """Metadata as string key/value pairs (ONNX ``metadata_props``, sidecar JSON)."""
        props = dict(self.extra)
        props.update(
            {
                KEY_CHARACTER: "\n".join(self.charset),
                KEY_ARCH: self.arch,
                KEY_PREPROCESS: self.preprocess.to_json(),
                KEY_BLANK: str(self.blank_index),
                KEY_OUTPUT: self.output,
                KEY_FORMAT: FORMAT_VERSION,
            }
        )
        return props

    @classmethod
    def from_props(cls, props: Mapping[str, str], source: str = "model") -> ModelInfo:
        """Parse metadata written by :meth:`to_props`; raises ``ValueError`` naming what is missing or wrong."""
        missing = [k for k in (KEY_CHARACTER, KEY_PREPROCESS) if k not in props]
        if missing:
            raise ValueError(
                f"{source} lacks starnet-trt metadata {missing}: export it with 'starnet-trt export' "
                "(or 'starnet-trt convert') so the charset and preprocessing travel with the model"
            )
        chars = props[KEY_CHARACTER].split("\n")
        if any(len(c) != 1 for c in chars) or len(set(chars)) != len(chars):
            raise ValueError(f"{source}: metadata 'character' must list distinct single characters, one per line")
        try:
            blank = int(props.get(KEY_BLANK, "0"))
        except ValueError:
            raise ValueError(f"{source}: metadata '{KEY_BLANK}' must be an integer") from None
        if blank != 0:
            raise ValueError(f"{source}: only blank index 0 is supported, got {blank}")
        output = props.get(KEY_OUTPUT, "probs")
        if output not in ("probs", "logits"):
            raise ValueError(f"{source}: metadata '{KEY_OUTPUT}' must be 'probs' or 'logits', got {output!r}")
        known = {KEY_CHARACTER, KEY_ARCH, KEY_PREPROCESS, KEY_BLANK, KEY_OUTPUT, KEY_FORMAT}
        return cls(
            charset="".join(chars),
            arch=props.get(KEY_ARCH, "unknown"),
            preprocess=Preprocess.from_json(props[KEY_PREPROCESS]),
            blank_index=blank,
            output=output,
            extra={k: v for k, v in props.items() if k not in known},
        )
