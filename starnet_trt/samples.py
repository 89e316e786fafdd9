"""The 25 sample word images that ship with starnet-trt (``examples/words`` of the repository).

PaddleOCR's ``doc/imgs_words_en`` and DTRB's ``demo_image`` words (both Apache-2.0; ``examples/README.md``). They
are the README's first demo and the default INT8 calibration set of ``starnet-trt build --int8`` and
``starnet-trt quantize`` when no ``--calib`` is given: on the bundled model, percentile calibration on these 25
words changed 141 of 903 held-out texts against 158 for 512 images of iiit5k/train (``starnet_trt.quantize``).
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_COUNT = 25


def sample_words_dir() -> Path:
    """Folder of the sample word images: ``starnet_trt/samples/words`` in an installed wheel, ``examples/words`` in
    a source checkout (editable installs included).

    Raises:
        FileNotFoundError: Neither exists (a package built without them).
    """
    here = Path(__file__).resolve().parent
    candidates = (here / "samples" / "words", here.parent / "examples" / "words")
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        "the sample word images are missing (looked in " + ", ".join(str(c) for c in candidates) + "); "
        "reinstall starnet-trt, or pass a calibration set"
    )
