"""``python -m starnet_trt``: the ``starnet-trt`` command line."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
