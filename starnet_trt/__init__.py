"""starnet-trt: STAR-Net scene-text recognition on ONNX Runtime and TensorRT.

Example:
    >>> from starnet_trt import Recognizer
    >>> rec = Recognizer()  # bundled default model  # doctest: +SKIP
    >>> rec.recognize("word.png")[0].text  # doctest: +SKIP
    'hello'
"""

from __future__ import annotations

__version__ = "0.1.0"

from .recognizer import Recognizer
from .results import Result

__all__ = ["Recognizer", "Result", "__version__"]
