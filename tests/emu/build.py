"""Build tests/emu/kernels_emu: the CUDA kernels' own source compiled for the CPU with cuda_emu.h.

Rewrites each csrc/cuda/*.cu launch (`k<<<grid, block, smem, stream>>>(args)`) and `extern __shared__` array into
what cuda_emu.h provides, and compiles them with the host C++ compiler next to the CPU twins and kernels_emu.cpp.
The CUDA headers (cuda_runtime_api.h, cuda_fp16.h) come from the CUDA toolkit; no GPU, driver or nvcc is needed.
Usage: python tests/emu/build.py OUT_DIR [--sanitize]  -> prints the executable's path (cached by a hash of every
input); python tests/emu/build.py --check  -> exit status 0 when this machine can build it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CSRC = ROOT / "csrc"
KERNELS = ["resizeNormalize", "pilResize", "tpsGridSample", "ctcGreedyDecode"]
CPU_TWINS = ["resizeNormalizeCPU", "pilResizeCPU", "tpsGridSampleCPU", "ctcGreedyDecodeCPU"]

_LAUNCH = re.compile(r"(\w+(?:<[^<>;]*>)?)\s*<<<(.*?)>>>\s*\(", re.S)
_SHARED = re.compile(r"extern __shared__ (?:__align__\(\d+\) )?(\w+(?: \w+)?) (\w+)\[\];")


def rewrite(source: str) -> str:
    """A kernel file with its launches and dynamic shared arrays in cuda_emu.h's form."""
    source = _SHARED.sub(r"\1* \2 = reinterpret_cast<\1*>(emu::state().dynamicShared.data());", source)
    rewritten = _LAUNCH.sub(
        lambda m: f"emu::launch({m.group(2)}, [&](auto&&... emuArgs) {{ {m.group(1)}(emuArgs...); }}, ", source
    )
    if "<<<" in rewritten or "extern __shared__" in rewritten:
        raise ValueError("a kernel launch or dynamic shared array was not rewritten")
    return rewritten


def cuda_include() -> Path | None:
    """The CUDA toolkit's include folder (CUDA_HOME / CUDA_PATH, nvcc's, or /usr/local/cuda), or None."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parents[1]))
    candidates.append("/usr/local/cuda")
    for c in candidates:
        if c and (Path(c) / "include" / "cuda_fp16.h").is_file():
            return Path(c) / "include"
    return None


def compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


#: Flags of a sanitized build (build(..., sanitize=True)): out-of-bounds and undefined behaviour in a kernel's own
#: code (index overflow, a read past a shared array) stop the run with a report naming the source line.
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]


def build(out_dir: Path, sanitize: bool = False) -> Path:
    cxx = compiler()
    include = cuda_include()
    if cxx is None or include is None:
        raise FileNotFoundError("needs a C++20 compiler and the CUDA toolkit headers (cuda_fp16.h)")
    inputs = sorted(CSRC.rglob("*.h")) + sorted(CSRC.rglob("*.cuh")) + sorted((CSRC / "cuda").glob("*.cu"))
    inputs += [*sorted((CSRC / "cpu").glob("*.cpp")), HERE / "cuda_emu.h", HERE / "kernels_emu.cpp", Path(__file__)]
    digest = hashlib.sha256(f"{cxx} sanitize={sanitize}".encode())
    for p in inputs:
        digest.update(p.read_bytes())
    exe = out_dir / f"kernels_emu-{digest.hexdigest()[:16]}"
    if exe.is_file():
        return exe
    work = out_dir / "src"
    work.mkdir(parents=True, exist_ok=True)
    sources = []
    for name in KERNELS:
        target = work / f"{name}_emu.cpp"
        target.write_text(rewrite((CSRC / "cuda" / f"{name}.cu").read_text()))
        sources.append(target)
    extra = SANITIZE if sanitize else []
    flags = [
        "-std=c++20",
        "-O2",
        "-g0",
        f"-I{CSRC}",
        f"-I{include}",
        "-Wall",
        "-Wno-unknown-pragmas",
        "-Wno-unused-function",
        *extra,
    ]
    emu = ["-include", str(HERE / "cuda_emu.h")]
    objects = []
    for src in [*sources, HERE / "kernels_emu.cpp"]:
        obj = work / (src.stem + ".o")
        subprocess.run([cxx, *flags, *emu, "-c", str(src), "-o", str(obj)], check=True)
        objects.append(obj)
    for name in CPU_TWINS:
        obj = work / (name + ".o")
        subprocess.run([cxx, *flags, "-c", str(CSRC / "cpu" / f"{name}.cpp"), "-o", str(obj)], check=True)
        objects.append(obj)
    tmp = exe.with_suffix(".tmp")
    subprocess.run([cxx, *map(str, objects), *extra, "-pthread", "-o", str(tmp)], check=True)
    tmp.replace(exe)
    return exe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", help="build folder (prints the executable's path)")
    parser.add_argument("--sanitize", action="store_true", help="AddressSanitizer + UndefinedBehaviorSanitizer")
    parser.add_argument("--check", action="store_true", help="only say whether this machine can build it (exit 0/1)")
    args = parser.parse_args()
    if args.check or args.out_dir is None:
        missing = compiler() is None or cuda_include() is None
        print("missing a C++20 compiler or the CUDA toolkit headers (cuda_fp16.h)" if missing else "can build")
        return 1 if missing else 0
    print(build(args.out_dir, sanitize=args.sanitize))
    return 0


if __name__ == "__main__":
    sys.exit(main())
