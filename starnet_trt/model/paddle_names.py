"""The one table from our PyTorch parameter names to PaddleOCR v2.0 ``state_dict`` names.

PaddleOCR saves dygraph ``state_dict`` keys built from its module tree (``BaseModel`` with ``transform``,
``backbone``, ``neck``, ``head``). Each rule below rewrites a PyTorch name prefix/suffix to Paddle's; the
importer (``starnet-trt convert``) walks :func:`paddle_name_table` and reports every missing or unexpected
name instead of guessing.

Conversions beyond renaming, recorded per entry:
- ``transpose``: Paddle ``Linear`` weights are ``[in, out]``, PyTorch's ``[out, in]``.
- LSTM: Paddle's ``nn.LSTM`` stores ``lstm.{layer}.cell_{fw,bw}.{weight_ih,weight_hh,bias_ih,bias_hh}`` with
  gates in i, f, g(c), o order and shape ``[4*hidden, in]``, the same layout as PyTorch, so no reordering.
- BatchNorm running statistics are ``_mean``/``_variance`` in Paddle; ``num_batches_tracked`` has no twin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Paddle keys that exist in checkpoints but have no PyTorch twin because they are provably inert:
# the TPS "ex_fc" layer has zero weights and learning rate 0 (see tps.py).
PADDLE_ONLY = ("transform.grid_generator.fc.weight", "transform.grid_generator.fc.bias")

_BN_SUFFIX = {"weight": "weight", "bias": "bias", "running_mean": "_mean", "running_var": "_variance"}


@dataclass(frozen=True)
class NameMapping:
    torch_name: str
    paddle_name: str
    transpose: bool = False


def _bn_or_conv(torch_tail: str, paddle_conv: str, paddle_bn: str) -> str | None:
    """Map ``conv.weight`` / ``bn.<x>`` tails to Paddle's sublayer names."""
    if torch_tail == "conv.weight":
        return f"{paddle_conv}.weight"
    if torch_tail.startswith("bn."):
        stat = torch_tail[3:]
        return f"{paddle_bn}.{_BN_SUFFIX[stat]}" if stat in _BN_SUFFIX else None
    return None


def paddle_name(torch_name: str, arch: str) -> NameMapping | None:
    """Paddle name for one PyTorch parameter/buffer name; ``None`` for buffers Paddle does not have."""
    if torch_name.endswith("num_batches_tracked"):
        return None
    # TPS localization: convs.{i} -> loc_conv{i}; fc1/fc2 transposed.
    m = re.fullmatch(r"transform\.loc_net\.convs\.(\d+)\.(.+)", torch_name)
    if m:
        mapped = _bn_or_conv(m.group(2), "conv", "bn")
        return NameMapping(torch_name, f"transform.loc_net.loc_conv{m.group(1)}.{mapped}") if mapped else None
    m = re.fullmatch(r"transform\.loc_net\.(fc[12])\.(weight|bias)", torch_name)
    if m:
        return NameMapping(torch_name, torch_name, transpose=m.group(2) == "weight")
    # BiLSTM neck.
    m = re.fullmatch(r"neck\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?", torch_name)
    if m:
        cell = "cell_bw" if m.group(3) else "cell_fw"
        return NameMapping(torch_name, f"neck.encoder.lstm.{m.group(2)}.{cell}.{m.group(1)}")
    # CTC head.
    m = re.fullmatch(r"head\.(weight|bias)", torch_name)
    if m:
        return NameMapping(torch_name, f"head.fc.{m.group(1)}", transpose=m.group(1) == "weight")
    if arch == "starnet_mv3":
        # Our MobileNetV3 reuses Paddle's attribute names; only BN statistics and the SE convs differ in form.
        m = re.fullmatch(r"(backbone\.(?:.+\.)?)(conv\.weight|bn\.\w+)", torch_name)
        if m:
            mapped = _bn_or_conv(m.group(2), "conv", "bn")
            return NameMapping(torch_name, m.group(1) + mapped) if mapped else None
        m = re.fullmatch(r"backbone\.blocks\.(\d+)\.mid_se\.(conv[12])\.(weight|bias)", torch_name)
        if m:
            return NameMapping(torch_name, torch_name)
    if arch == "starnet_r34_vd":
        return _resnet_name(torch_name)
    return None


_R34_DEPTH = (3, 4, 6, 3)


def _resnet_block_name(flat_index: int) -> str:
    """``blocks.{k}`` (flat Sequential index) -> Paddle's ``bb_{stage}_{i}`` sublayer name."""
    k = flat_index
    for stage, n in enumerate(_R34_DEPTH):
        if k < n:
            return f"bb_{stage}_{k}"
        k -= n
    raise ValueError(f"block index {flat_index} out of range for ResNet34")


def _resnet_name(torch_name: str) -> NameMapping | None:
    # Stem: conv1_{1,2,3}.conv.{conv.weight|bn.x} -> conv1_x._conv.weight / conv1_x._batch_norm.x
    m = re.fullmatch(r"backbone\.(conv1_[123])\.conv\.(.+)", torch_name)
    if m:
        mapped = _bn_or_conv(m.group(2), "_conv", "_batch_norm")
        return NameMapping(torch_name, f"backbone.{m.group(1)}.{mapped}") if mapped else None
    m = re.fullmatch(r"backbone\.blocks\.(\d+)\.(conv0|conv1|short)\.conv\.(.+)", torch_name)
    if m:
        mapped = _bn_or_conv(m.group(3), "_conv", "_batch_norm")
        block = _resnet_block_name(int(m.group(1)))
        return NameMapping(torch_name, f"backbone.{block}.{m.group(2)}.{mapped}") if mapped else None
    return None


def paddle_name_table(model) -> list[NameMapping]:
    """Every PyTorch state_dict entry of ``model`` with its Paddle name (raises if one has no rule)."""
    table = []
    for name in model.state_dict():
        mapping = paddle_name(name, model.arch)
        if mapping is None and not name.endswith("num_batches_tracked"):
            raise KeyError(f"no Paddle name rule for {name!r} ({model.arch})")
        if mapping is not None:
            table.append(mapping)
    return table
