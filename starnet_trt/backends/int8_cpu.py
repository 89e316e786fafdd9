"""Whether a Q/DQ model's int8 weights overflow this CPU's int8 kernels (x86 without VNNI).

x86 CPUs without VNNI (AVX2 only: AMD Zen 1-3, Intel before Cascade Lake / Ice Lake) multiply uint8 activations by
int8 weights with ``vpmaddubsw``, which sums pairs of products into 16 bits with saturation: weights beyond
[-64, 64] overflow, and the texts come out wrong without any error. ``starnet-trt quantize`` writes 7-bit weights by
default for that reason; full-range files (``--full-range-weights``, files made before 2026-12-07, files of other
tools) are for TensorRT and VNNI/AMX CPUs. On an AVX2-only Zen 3 the 2026-11-28 bundled model's full-range int8 file
read IIIT5K 66.57% and SVT 54.56% under ONNX Runtime, against 73.37% and 64.76% in float (README, "--int8").
"""

from __future__ import annotations

import json
import logging
import os
import platform
from pathlib import Path

import numpy as np

#: Linux /proc/cpuinfo flags of the x86 int8 dot-product instructions that accumulate in 32 bits.
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "avx_vnni_int8"})
#: The largest |int8 weight| the AVX2 pair sum (2 x 255 x 64 = 32640) keeps within int16.
SAFE_WEIGHT = 64


def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags (Linux /proc/cpuinfo), or None where they cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def saturating_x86(flags: frozenset[str] | None = None, machine: str | None = None) -> bool:
    """True on an x86 CPU whose int8 kernels saturate (AVX2 without VNNI); False where unknown or not x86."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64", "i686", "x86"):
        return False
    flags = cpu_flags() if flags is None else flags
    return flags is not None and "avx2" in flags and not (flags & VNNI_FLAGS)


def full_range_weights(path: str | os.PathLike[str], props: dict[str, str]) -> bool:
    """True when the Q/DQ model at ``path`` holds int8 weights beyond [-64, 64].

    starnet-trt's own files say so in their metadata; others are read (int8 initializers feeding a
    DequantizeLinear; weights in external data files are not judged).
    """
    record = props.get("starnet.quantization")
    if record:
        try:
            weights = str(json.loads(record).get("weights", ""))
        except (ValueError, AttributeError):
            weights = ""
        if weights.endswith("7-bit range"):
            return False
        if weights.endswith("full range"):
            return True
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    if b"DequantizeLinear" not in data:  # a float model: no need to import onnx (over a second, the first time)
        return False
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load_model_from_string(data)
        inits = {t.name: t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8 and t.raw_data}
        for node in proto.graph.node:
            if node.op_type == "DequantizeLinear" and node.input and node.input[0] in inits:
                values = numpy_helper.to_array(inits[node.input[0]]).astype(np.int16)
                if values.size and int(np.abs(values).max()) > SAFE_WEIGHT:
                    return True
    except Exception:  # the backend has loaded the file already; what cannot be judged gets no warning
        return False
    return False


def warn_if_saturating(path: str | os.PathLike[str], props: dict[str, str], logger: logging.Logger) -> bool:
    """Log a warning (and return True) when this CPU's int8 kernels would overflow the model's weights."""
    if not saturating_x86() or not full_range_weights(path, props):
        return False
    logger.warning(
        "%s holds full-range int8 weights and this CPU has no VNNI (AVX2 only): its int8 kernels saturate on them "
        "and texts come out wrong (the bundled model's int8 lost 7 to 11 points of word accuracy on such a CPU). "
        "Re-quantize with `starnet-trt quantize` (7-bit weights by default) or run the float model",
        os.path.basename(os.fspath(path)),
    )
    return True
