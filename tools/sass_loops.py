"""Static machine-code figures of the CUDA kernels, without a GPU: registers, spills and the hot loops' instructions.

    python tools/sass_loops.py                          # every kernel of csrc/cuda, sm_90
    python tools/sass_loops.py --arch sm_87 --kernel tpsGridSampleTable --source csrc/cuda/tpsGridSample.cu

Compiles each source to a cubin with nvcc (the project's -O3, C++17, include path), disassembles it with cuobjdump
(from the CUDA toolkit, or the `nvidia-cuda-cuobjdump` + `nvidia-cuda-nvdisasm` wheels of the test extras) and prints,
per kernel, the registers and spills ptxas reports and each innermost loop that stores to global memory: its SASS
instructions, global loads (LDG), shared loads (LDS) and global stores (STG) per iteration.

Why: the TPS sampler measured issue-bound on an H200 (tools/gpu_profile.py under ncu): its time follows the
instructions per output pixel and sample, which this counts on any machine with nvcc. It is what a session without a
GPU can check a kernel change against; times still come only from tools/gpu_selftest on a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "csrc" / "cuda").glob("*.cu"))


@dataclasses.dataclass
class Loop:
    """One loop (a backward branch's range) whose own body stores to global memory; nested loops not counted."""

    start: int
    end: int
    instructions: int
    ldg: int
    lds: int
    stg: int


@dataclasses.dataclass
class Kernel:
    name: str  # demangled where c++filt is available
    mangled: str
    registers: int
    spill_bytes: int
    instructions: int
    loops: list[Loop]


def nvcc() -> str | None:
    found = shutil.which("nvcc")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and (Path(root) / "bin" / "nvcc").is_file():
            return str(Path(root) / "bin" / "nvcc")
    return None


def cuobjdump() -> str | None:
    """cuobjdump next to nvcc or on PATH, else the pip wheel's (nvidia/cu*/bin, with nvdisasm beside it)."""
    compiler = nvcc()
    candidates = [shutil.which("cuobjdump")]
    if compiler:
        candidates.append(str(Path(compiler).parent / "cuobjdump"))
    try:
        import nvidia  # namespace package of NVIDIA's pip wheels

        for base in nvidia.__path__:
            candidates += [str(p) for p in sorted(Path(base).glob("cu*/bin/cuobjdump"))]
    except ImportError:
        pass
    for c in candidates:
        if c and Path(c).is_file() and ((Path(c).parent / "nvdisasm").is_file() or shutil.which("nvdisasm")):
            return c  # cuobjdump -sass runs nvdisasm
    return None


def _demangle(names: list[str]) -> dict[str, str]:
    filt = shutil.which("c++filt")
    if not filt or not names:
        return {n: n for n in names}
    run = subprocess.run([filt], input="\n".join(names), capture_output=True, text=True, check=False)
    out = run.stdout.splitlines()
    if run.returncode != 0 or len(out) != len(names):
        return {n: n for n in names}
    return dict(zip(names, out, strict=True))


_INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+([^;]*);")
_BACK_BRANCH = re.compile(r"\bBRA\b(?:\s+\S+,)?\s+(?:`\()?0x([0-9a-f]+)")


def _loops(instructions: list[tuple[int, str]]) -> list[Loop]:
    """Loops (backward branches) whose own body, nested loops left out, stores to global memory."""
    ranges = set()
    for address, op in instructions:
        m = _BACK_BRANCH.search(op)
        if m and int(m.group(1), 16) <= address:
            ranges.add((int(m.group(1), 16), address))
    loops = []
    for start, end in sorted(ranges):
        nested = [r for r in ranges if r != (start, end) and start <= r[0] and r[1] <= end]
        body = [op for a, op in instructions if start <= a <= end and not any(r[0] <= a <= r[1] for r in nested)]
        stg = sum(re.search(r"\bSTG\b", op) is not None for op in body)
        if stg:
            loops.append(
                Loop(
                    start,
                    end,
                    len(body),
                    ldg=sum(re.search(r"\bLDG\b", op) is not None for op in body),
                    lds=sum(re.search(r"\bLDS\b", op) is not None for op in body),
                    stg=stg,
                )
            )
    return loops


def analyze(source: Path, arch: str = "sm_90", kernel: str = "") -> list[Kernel]:
    """Compile `source` for `arch` and return its kernels whose (demangled) name matches the regex `kernel`.

    Headers come from the source's own tree (csrc/cuda/x.cu -> csrc), so another checkout's file is compiled
    with that checkout's cores: `--source /tmp/old/csrc/cuda/tpsGridSample.cu` gives the old figures."""
    compiler, dump = nvcc(), cuobjdump()
    if compiler is None or dump is None:
        raise RuntimeError("needs nvcc and cuobjdump (pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm)")
    include = Path(source).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        cubin = Path(tmp) / "k.cubin"
        build = subprocess.run(
            [compiler, "-std=c++17", "-O3", f"-I{include}", f"-arch={arch}", "-cubin", "-o", str(cubin),
             "-Xptxas", "-v", str(source)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if build.returncode != 0:
            raise RuntimeError(f"nvcc failed on {source}:\n{build.stderr[-4000:]}")
        sass = subprocess.run([dump, "-sass", str(cubin)], capture_output=True, text=True, check=True).stdout
    # ptxas -v names a function ("Compiling entry function 'X'" / "Function properties for X"), then its spills
    # and registers on lines of their own.
    registers: dict[str, int] = {}
    spills: dict[str, int] = {}
    current = None
    for line in build.stderr.splitlines():
        m = re.search(r"(?:Compiling entry function '|Function properties for )([^'\s]+)", line)
        if m:
            current = m.group(1)
        elif current and (m := re.search(r"(\d+) bytes spill stores", line)):
            spills[current] = int(m.group(1))
        elif current and (m := re.search(r"Used (\d+) registers", line)):
            registers[current] = int(m.group(1))
    parts = re.split(r"\n\s*Function : ", sass)[1:]
    names = [p.split("\n", 1)[0].strip() for p in parts]
    demangled = _demangle(names)
    kernels = []
    for name, part in zip(names, parts, strict=True):
        if kernel and not re.search(kernel, demangled[name]):
            continue
        instructions = [(int(m.group(1), 16), m.group(2).strip()) for m in _INSTRUCTION.finditer(part)]
        kernels.append(
            Kernel(
                demangled[name],
                name,
                registers.get(name, 0),
                spills.get(name, 0),
                len(instructions),
                _loops(instructions),
            )
        )
    return kernels


def _short(name: str) -> str:
    name = re.sub(r"\(anonymous namespace\)::|starnet::|\(.*$", "", name)
    return name.replace("__half", "half")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="sm_90", help="SASS target, e.g. sm_75, sm_87, sm_90 (default sm_90)")
    parser.add_argument("--source", type=Path, action="append", help="a .cu file (default: every csrc/cuda/*.cu)")
    parser.add_argument("--kernel", default="", help="only kernels whose demangled name matches this regex")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        report = {str(s): analyze(s, args.arch, args.kernel) for s in (args.source or SOURCES)}
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    for source, kernels in report.items():
        for k in kernels:
            print(f"{_short(k.name)}  [{Path(source).name}, {args.arch}]: {k.registers} registers, "
                  f"{k.spill_bytes} B spilled, {k.instructions} instructions")  # fmt: skip
            for loop in k.loops:
                print(f"    loop {loop.start:#07x}: {loop.instructions:4d} instructions, "
                      f"LDG {loop.ldg:2d}  LDS {loop.lds:2d}  STG {loop.stg}")  # fmt: skip
    if args.json:
        data = {s: [dataclasses.asdict(k) for k in ks] for s, ks in report.items()}
        args.json.write_text(json.dumps({"arch": args.arch, "sources": data}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
