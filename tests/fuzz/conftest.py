"""Time-bounded fuzzing: each harness feeds random, often malformed inputs to one entry point for
``$FUZZ_SECONDS`` seconds (default 2 in a normal test run; CI's sanitizer job and on-demand runs use more).

A harness passes when every call either returns a well-formed result or raises one of the entry point's
documented exception types. A crash (segfault, sanitizer report, abort) fails the whole run. Inputs that once
failed are kept in ``tests/fuzz/regressions/`` and replayed first; a failure names the seed and run that
reproduce it (``FUZZ_SEED``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import pytest


class Fuzzer:
    def __init__(self, name: str, seconds: float, seed: int) -> None:
        self.name = name
        self.seconds = seconds
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.executions = 0
        self.outcomes: dict[str, int] = {}

    def run(self, one: Callable[[np.random.Generator], str]) -> None:
        """Call ``one(rng)`` until the time budget is spent; it returns an outcome label ("ok", "ValueError"...)."""
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            try:
                outcome = one(self.rng)
            except BaseException as exc:
                # The rng's sequence depends on the seed only, so this input comes back at the same run index.
                note = f"[fuzz] {self.name}: run {self.executions}; reproduce with FUZZ_SEED={self.seed}"
                if hasattr(exc, "add_note"):  # Python >= 3.11
                    exc.add_note(note)
                else:
                    print(note)
                raise
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self.executions += 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        print(f"\n[fuzz] {self.name}: {self.executions} runs in {self.seconds:.0f} s (seed {self.seed}): {summary}")


@pytest.fixture
def fuzzer(request: pytest.FixtureRequest) -> Fuzzer:
    seconds = float(os.environ.get("FUZZ_SECONDS", "2"))
    seed = int(os.environ.get("FUZZ_SEED", str(int(time.time()) % 100000)))
    return Fuzzer(request.node.name, seconds, seed)


def call(fn: Callable[[], object], allowed: tuple[type[BaseException], ...]) -> str:
    """Run ``fn``; a documented exception becomes its outcome label, anything else propagates (test failure)."""
    try:
        fn()
    except allowed as exc:
        return type(exc).__name__
    return "ok"
