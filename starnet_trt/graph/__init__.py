"""ONNX-level steps of the engine builder: contract checks, FP16 typing, clean-ups before quantization.

Everything here works on ``onnx.ModelProto`` objects and needs only ``onnx`` and ``onnxruntime`` (runtime
dependencies), so these steps run and are tested on any machine, TensorRT or not.
"""
