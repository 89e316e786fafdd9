"""Graph clean-ups that make the exported graph easier for the quantizer to read. Numerics are unchanged.

PyTorch's TorchScript exporter routes some shared parameters (conv biases of the MobileNetV3 SE blocks, for
instance) through ``Identity`` nodes. ONNX Runtime's quantizer then no longer sees those biases as initializers
and warns; TensorRT does not care either way. Bypassing an ``Identity`` whose input is an initializer is exact.
"""

from __future__ import annotations

from typing import Any


def bypass_initializer_identities(proto: Any) -> int:
    """Rewire consumers of ``Identity(initializer)`` to the initializer itself and drop those nodes, in place.

    Graph outputs produced by such an Identity are left alone. Returns the number of nodes removed.
    """
    graph = proto.graph
    initializers = {t.name for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    alias: dict[str, str] = {}
    keep = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in initializers and node.output[0] not in outputs:
            alias[node.output[0]] = node.input[0]
        else:
            keep.append(node)
    if not alias:
        return 0
    for node in keep:
        for i, name in enumerate(node.input):
            if name in alias:
                node.input[i] = alias[name]
    del graph.node[:]
    graph.node.extend(keep)
    # value_info entries of the removed Identity outputs would describe tensors that no longer exist.
    stale = [v for v in graph.value_info if v.name in alias]
    for v in stale:
        graph.value_info.remove(v)
    return len(alias)
