"""Train STAR-Net with CTC (``starnet-trt train --config CONFIG.json``).

Design points:
- **Exact resume.** Sample ``g`` of the run (g = step * batch + slot) is chosen and augmented from
  ``numpy.random.default_rng([seed, g])``, so the data stream depends only on the seed and the position, not
  on workers or restarts. ``last.pt`` stores model, optimizer, scheduler, step and the torch RNG state;
  ``--resume`` continues bit-for-bit on the same machine.
- **Mixed sources** with weights: online synthetic rendering (``synth``), LMDB sets, PaddleOCR label files.
  Real training splits can hold out a deterministic slice (every k-th sample) for validation; test splits
  must never appear in a config.
- Preprocessing is the inference one (PaddleOCR ``resize_norm_img`` through the C++ core), so a trained
  model sees the same pixels at training and inference time.
- CPU: channels-last memory format (about 1.6x faster convolutions here); CUDA: automatic mixed precision.
- Checkpoints are written atomically; ``best.pt`` and ``weights.pt`` hold weights only (small, safe to load).
"""

from __future__ import annotations

import argparse
import copy
import csv
import itertools
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# GNU OpenMP threads spin while idle; next to data workers on a small CPU that spinning starves everyone
# (measured here: 9 img/s spinning vs 49 img/s passive on 2 cores). Must be set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DEFAULTS: dict[str, Any] = {
    "arch": "starnet_mv3",
    "charset": "0123456789abcdefghijklmnopqrstuvwxyz",
    "seed": 0,
    "out_dir": "runs/starnet_mv3",
    "batch_size": 64,
    "max_steps": 10000,
    "max_minutes": None,
    "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "betas": [0.9, 0.999]},
    "schedule": {"name": "cosine", "warmup_steps": 300, "min_lr_ratio": 0.02},
    "loc_lr": 0.1,
    "tps_init": "identity",
    "grad_clip": 5.0,
    "label_mode": "strip",
    "num_workers": 1,
    "val_every": 500,
    "ckpt_every": 250,
    "log_every": 20,
    "init_weights": None,
    "data": {"train": [], "val": []},
}


# --------------------------------------------------------------------------- config


def load_config(path: str | os.PathLike[str] | None, overrides: list[str] | None = None) -> dict[str, Any]:
    """Defaults <- JSON file <- ``key.sub=value`` overrides (values parsed as JSON when possible)."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(os.fspath(path))
        if not path.is_file():
            raise FileNotFoundError(f"config not found: {path}")
        try:
            user = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON: {exc}") from None
        unknown = set(user) - set(DEFAULTS) - {"comment"}
        if unknown:
            raise ValueError(f"{path}: unknown config keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        for split in ("train", "val"):
            for src in user.get("data", {}).get(split, []):
                if src.get("path"):  # relative paths are relative to the working directory (the repo root)
                    src["path"] = os.path.expandvars(src["path"])
        _merge(cfg, user)
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} must look like key=value")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = parsed
    return cfg


def _merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict) and k != "data":
            _merge(dst[k], v)
        else:
            dst[k] = v


# --------------------------------------------------------------------------- data


class SynthSource:
    """Online synthetic rendering: sample ``i`` rendered from ``(seed, i)``; unbounded."""

    def __init__(self, seed: int, fonts_dir: str | None = None) -> None:
        self.seed = seed
        self.fonts_dir = fonts_dir
        self._synth = None
        self.name = "synth"

    def __len__(self) -> int:
        return 1 << 40

    def _ensure(self):
        if self._synth is None:
            from .data import synth

            fonts = synth.discover_fonts(self.fonts_dir) if self.fonts_dir else synth.discover_fonts()
            self._synth = synth.Synthesizer(fonts, synth.load_words())
        return self._synth

    def __getitem__(self, index: int):
        return self._ensure().sample(self.seed, index)


class HoldoutView:
    """Every ``k``-th sample of a dataset (``keep=True``) or all the others (``keep=False``)."""

    def __init__(self, base, k: int, keep: bool) -> None:
        self.base, self.k = base, k
        n = len(base)
        self.indices = [i for i in range(n) if (i % k == k - 1) == keep]
        self.name = f"{getattr(base, 'name', 'data')}[{'holdout' if keep else 'train'} 1/{k}]"

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.base[self.indices[i]]


def open_source(spec: dict[str, Any], split: str, seed: int):
    kind = spec.get("type", "synth" if spec.get("path") is None else "file")
    if kind == "synth":
        return SynthSource(int(spec.get("seed", seed + (0 if split == "train" else 7919))), spec.get("fonts_dir"))
    from .data.datasets import open_dataset

    path = spec["path"]
    if "/test" in path.replace("\\", "/").split("/shared/data/")[-1] and "shared/data" in path:
        raise ValueError(f"{path}: test splits are for evaluation only; never train or select models on them")
    ds = open_dataset(path)
    k = spec.get("holdout_every")
    if k:
        ds = HoldoutView(ds, int(k), keep=(split == "val"))
    return ds


@dataclass
class Sample:
    image: np.ndarray
    target: list[int]
    label: str


class MixedStream:
    """Map-style dataset over global sample ids: id ``g`` -> (source, index, augmentation) from rng(seed, g)."""

    def __init__(self, sources: list, specs: list[dict[str, Any]], cfg: dict[str, Any]) -> None:
        self.sources = sources
        w = np.array([float(s.get("weight", 1.0)) for s in specs])
        self.cum = np.cumsum(w / w.sum())
        self.augment = [bool(s.get("augment", False)) for s in specs]
        self.seed = int(cfg["seed"])
        self.charset = cfg["charset"]
        self.label_mode = cfg["label_mode"]
        self.lut = {c: i + 1 for i, c in enumerate(self.charset)}

    def draw(self, g: int):
        from .data.labels import train_label

        rng = np.random.default_rng([self.seed, int(g)])
        for _ in range(20):
            s = int(np.searchsorted(self.cum, rng.random(), side="right"))
            s = min(s, len(self.sources) - 1)
            src = self.sources[s]
            idx = int(rng.integers(0, len(src)))
            image, label = src[idx]
            target = train_label(label, mode=self.label_mode, charset=self.charset) if image is not None else None
            if target is None or not _ctc_fits(target, 25):
                continue
            if self.augment[s]:
                from .data.augment import augment

                image = augment(image, rng)
            return image, target
        raise RuntimeError("20 consecutive unusable samples: check the data sources and label filter")

    def __len__(self) -> int:
        return 1 << 40

    def __getitem__(self, g: int):
        image, target = self.draw(g)
        return image, [self.lut[c] for c in target], target


def _ctc_fits(target: str, steps: int) -> bool:
    repeats = sum(1 for a, b in itertools.pairwise(target) if a == b)
    return 0 < len(target) and len(target) + repeats <= steps


def collate(batch):
    import torch

    x = preprocess_batch([b[0] for b in batch])
    targets = torch.tensor([t for b in batch for t in b[1]], dtype=torch.long)
    lengths = torch.tensor([len(b[1]) for b in batch], dtype=torch.long)
    return torch.from_numpy(x), targets, lengths, [b[2] for b in batch]


class StepSampler:
    """Yields lists of global ids for steps ``start..``; the data of step s never depends on earlier steps."""

    def __init__(self, batch_size: int, start_step: int, max_steps: int) -> None:
        self.batch_size, self.start, self.stop = batch_size, start_step, max_steps

    def __iter__(self):
        for s in range(self.start, self.stop):
            yield list(range(s * self.batch_size, (s + 1) * self.batch_size))

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


# --------------------------------------------------------------------------- model / optim


def lr_factor(step: int, cfg: dict[str, Any]) -> float:
    sch = cfg["schedule"]
    warm = int(sch.get("warmup_steps", 0))
    if step < warm:
        return (step + 1) / warm
    if sch.get("name", "cosine") == "constant":
        return 1.0
    # "horizons": [[from_step, end_step], ...] lets a recipe shorten (or extend) the cosine part-way through
    # a run and stay a single reproducible config; by default the cosine ends at max_steps.
    # An entry [from, end, peak] is a warm restart: a fresh cosine from ``peak`` at ``from`` down to ``end``.
    end, begin, peak = int(cfg["max_steps"]), warm, 1.0
    for horizon in sch.get("horizons", []):
        if step >= int(horizon[0]):
            end = int(horizon[1])
            if len(horizon) > 2:
                begin, peak = int(horizon[0]), float(horizon[2])
    progress = min(1.0, (step - begin) / max(1, end - begin))
    lo = float(sch.get("min_lr_ratio", 0.0))
    return lo + (peak - lo) * 0.5 * (1 + math.cos(math.pi * progress))


def init_tps(model, mode: str) -> None:
    """Start the rectifier at the identity (``"identity"``) or at the RARE prior PaddleOCR/DTRB use (``"rare"``).

    The RARE prior samples a tilted half-height band of the input, so early on the recognizer sees half of
    every word's height cut away and must wait for the localization net to undo it. Starting at the
    identity (fiducials = the base points, see ``tps_grid_matrix``) lets recognition learn from step one;
    on a small CPU budget this is what gets CTC out of its blank plateau. Only the initial bias changes:
    the architecture, and so weight import and export, are untouched.
    """
    import torch

    from .model.tps import fiducial_points, initial_fiducials

    if mode not in ("identity", "rare"):
        raise ValueError(f"tps_init must be 'identity' or 'rare', got {mode!r}")
    fc2 = model.transform.loc_net.fc2
    points = fiducial_points(fc2.out_features // 2) if mode == "identity" else initial_fiducials(fc2.out_features // 2)
    with torch.no_grad():
        fc2.bias.copy_(torch.from_numpy(points.reshape(-1)).float())


def make_optimizer(model, cfg: dict[str, Any]):
    import torch

    oc = cfg["optimizer"]
    loc = [p for n, p in model.named_parameters() if n.startswith("transform.loc_net.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("transform.loc_net.")]
    # PaddleOCR trains the TPS localization net at loc_lr x the base rate: it keeps the rectifier stable early.
    groups = [{"params": rest, "lr_scale": 1.0}, {"params": loc, "lr_scale": float(cfg["loc_lr"])}]
    lr = float(oc["lr"])
    for g in groups:
        g["lr"] = lr * g["lr_scale"]
    name = oc.get("name", "adamw").lower()
    if name == "adamw":
        return torch.optim.AdamW(
            groups, lr=lr, betas=tuple(oc.get("betas", (0.9, 0.999))), weight_decay=float(oc.get("weight_decay", 0))
        )
    if name == "adadelta":
        return torch.optim.Adadelta(groups, lr=lr, rho=float(oc.get("rho", 0.95)), eps=float(oc.get("eps", 1e-8)))
    raise ValueError(f"optimizer must be 'adamw' or 'adadelta', got {name!r}")


def preprocess_batch(images: list[np.ndarray], height: int = 32, width: int = 100) -> np.ndarray:
    """PaddleOCR ``resize_norm_img`` with OpenCV, one image at a time, as PaddleOCR's training pipeline does.

    Training keeps the OpenCV path (one process per data worker, no threads); inference uses the C++ core,
    which reproduces it bit for bit on x86-64 (tested against the same reference).
    """
    from .reference import resize_norm_img

    return np.stack([resize_norm_img(img, (3, height, width)) for img in images])


def greedy_texts(probs: np.ndarray, charset: str) -> list[str]:
    """CTC greedy decode (argmax, collapse repeats, drop blank 0) to strings."""
    from .ops import ctc_greedy_decode

    indices, lengths, _ = ctc_greedy_decode(np.ascontiguousarray(probs, dtype=np.float32))
    return ["".join(charset[i - 1] for i in row[:n]) for row, n in zip(indices, lengths, strict=True)]


def validate(model, val_sets: list, cfg: dict[str, Any], device, limit: int = 2000) -> dict[str, float]:
    import torch

    from .data.labels import dtrb_filter

    model.eval()
    out: dict[str, float] = {}
    with torch.no_grad():
        for name, ds in val_sets:
            n = min(len(ds), limit)
            correct = total = 0
            for start in range(0, n, 128):
                items = [ds[i] for i in range(start, min(n, start + 128))]
                items = [(im, lb) for im, lb in items if im is not None]
                if not items:
                    continue
                x = preprocess_batch([im for im, _ in items])
                xt = torch.from_numpy(x).to(device)
                if device.type == "cpu":
                    xt = xt.contiguous(memory_format=torch.channels_last)
                probs = model(xt).float().cpu().numpy()
                for pred, (_, label) in zip(greedy_texts(probs, cfg["charset"]), items, strict=True):
                    correct += dtrb_filter(pred) == dtrb_filter(label)
                    total += 1
            out[name] = correct / max(1, total)
    model.train()
    return out


# --------------------------------------------------------------------------- loop


#: Checkpoint fields of a run started from ``init_weights``: the earlier stages' totals (steps, samples, seconds,
#: summed over their own earlier stages) and data, so an exported model states everything it was trained on.
LINEAGE_KEYS = ("init_weights", "init_step", "init_samples_seen", "init_train_seconds", "init_training_data")


def stage_totals(ck: dict[str, Any]) -> dict[str, Any]:
    """Everything checkpoint ``ck``'s weights were trained on, its earlier stages included: step, samples_seen,
    train_seconds and training_data (the stages' descriptions in order)."""
    data = [ck.get("init_training_data", ""), ck.get("training_data", "")]
    return {
        "step": int(ck.get("step", 0)) + int(ck.get("init_step", 0)),
        "samples_seen": int(ck.get("samples_seen", 0)) + int(ck.get("init_samples_seen", 0)),
        "train_seconds": float(ck.get("train_seconds", 0.0)) + float(ck.get("init_train_seconds", 0.0)),
        "training_data": "; then ".join(d for d in data if d),
    }


def init_lineage(ck: dict[str, Any], path: str) -> dict[str, Any]:
    """Lineage fields of a run initialized from checkpoint ``ck`` (read from ``path``): its totals."""
    return {"init_weights": path, **{f"init_{k}": v for k, v in stage_totals(ck).items()}}


def train(cfg: dict[str, Any], resume: str | None = None, device_name: str | None = None) -> Path:
    """Run training as configured; returns the output folder. Safe to interrupt: resume from ``last.pt``."""
    import torch

    from .model import build_model
    from .model.checkpoint import load_checkpoint, save_checkpoint

    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device_name or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(int(cfg["seed"]))
    model = build_model(cfg["arch"], num_classes=len(cfg["charset"]) + 1)
    init_tps(model, cfg["tps_init"])
    optimizer = make_optimizer(model, cfg)
    step, best, samples_seen, elapsed_before = 0, -1.0, 0, 0.0
    lineage: dict[str, Any] = {}  # what an init_weights run started from, carried into its checkpoints
    if resume:
        ck = load_checkpoint(resume)
        model.load_state_dict(ck["model"])
        lineage = {k: ck[k] for k in LINEAGE_KEYS if k in ck}
        if "optimizer" in ck:
            optimizer.load_state_dict(ck["optimizer"])
            step, best = int(ck["step"]), float(ck.get("best", -1.0))
            samples_seen, elapsed_before = int(ck.get("samples_seen", 0)), float(ck.get("train_seconds", 0.0))
            torch.set_rng_state(ck["torch_rng"])
        log.info("resumed from %s at step %d", resume, step)
    elif cfg.get("init_weights"):
        ck = load_checkpoint(cfg["init_weights"])
        model.load_state_dict({k: v.float() for k, v in ck["model"].items()})
        lineage = init_lineage(ck, str(cfg["init_weights"]))
        log.info("initialized weights from %s", cfg["init_weights"])
    model.to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    ctc = torch.nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)

    specs = cfg["data"]["train"]
    if not specs:
        raise ValueError("config data.train is empty: name at least one source (synth, LMDB or label file)")
    stream = MixedStream([open_source(s, "train", cfg["seed"]) for s in specs], specs, cfg)
    val_sets = [
        (getattr(ds, "name", "val"), ds) for ds in (open_source(s, "val", cfg["seed"]) for s in cfg["data"]["val"])
    ]
    val_limits = [int(s.get("limit", 2000)) for s in cfg["data"]["val"]]

    loader = torch.utils.data.DataLoader(
        stream,
        batch_sampler=StepSampler(int(cfg["batch_size"]), step, int(cfg["max_steps"])),
        num_workers=int(cfg["num_workers"]),
        collate_fn=collate,
        persistent_workers=False,
        prefetch_factor=4 if int(cfg["num_workers"]) > 0 else None,
    )
    log_path = out_dir / "log.csv"
    new_log = not log_path.exists() or not resume
    log_file = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log_file)
    if new_log:
        writer.writerow(["step", "samples", "seconds", "lr", "loss", "split", "metric", "value"])
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2))

    def checkpoint(path: Path, full: bool) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        payload: dict[str, Any] = {
            "arch": cfg["arch"],
            "charset": cfg["charset"],
            "model": state,
            "step": step,
            "samples_seen": samples_seen,
            "train_seconds": elapsed_before + time.time() - t0,
            "best": best,
            "training_data": _describe_data(cfg),
            **lineage,
        }
        if full:
            payload.update(optimizer=optimizer.state_dict(), torch_rng=torch.get_rng_state(), config=json.dumps(cfg))
        save_checkpoint(path, payload)

    t0 = time.time()
    deadline = t0 + 60 * float(cfg["max_minutes"]) if cfg.get("max_minutes") else None
    model.train()
    running, shown = 0.0, 0
    base_lrs = [float(cfg["optimizer"]["lr"]) * g["lr_scale"] for g in optimizer.param_groups]
    for x, targets, lengths, _labels in loader:
        f = lr_factor(step, cfg)
        for g, base in zip(optimizer.param_groups, base_lrs, strict=True):
            g["lr"] = base * f
        x = x.to(device, non_blocking=True)
        if device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            logits = model(x)
        logp = logits.float().log_softmax(2).permute(1, 0, 2)  # [T,N,C]
        t_len = torch.full((logp.shape[1],), logp.shape[0], dtype=torch.long)
        loss = ctc(logp, targets, t_len, lengths)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(cfg["grad_clip"]))
        scaler.step(optimizer)
        scaler.update()
        step += 1
        samples_seen += x.shape[0]
        running += loss.item()
        shown += 1
        now = time.time()
        if step % int(cfg["log_every"]) == 0:
            avg = running / shown
            running, shown = 0.0, 0
            secs = elapsed_before + now - t0
            writer.writerow(
                [
                    step,
                    samples_seen,
                    f"{secs:.1f}",
                    f"{base_lrs[0] * f:.6g}",
                    f"{avg:.4f}",
                    "train",
                    "loss",
                    f"{avg:.4f}",
                ]
            )
            log_file.flush()
            rate = samples_seen / max(1e-9, secs)
            print(
                f"\rstep {step}/{cfg['max_steps']} loss {avg:.3f} lr {base_lrs[0] * f:.2e} {rate:.0f} img/s",
                end="",
                file=sys.stderr,
                flush=True,
            )
        stop = step >= int(cfg["max_steps"]) or (deadline is not None and now >= deadline)
        if step % int(cfg["val_every"]) == 0 or stop:
            accs = {
                n: validate(model, [(n, ds)], cfg, device, lim)[n]
                for (n, ds), lim in zip(val_sets, val_limits, strict=True)
            }
            mean = float(np.mean(list(accs.values()))) if accs else 0.0
            for n, a in accs.items():
                writer.writerow([step, samples_seen, f"{elapsed_before + now - t0:.1f}", "", "", "val", n, f"{a:.4f}"])
            log_file.flush()
            print(f"\nval step {step}: " + ", ".join(f"{n} {a:.3f}" for n, a in accs.items()), file=sys.stderr)
            if mean > best:
                best = mean
                checkpoint(out_dir / "best.pt", full=False)
        if step % int(cfg["ckpt_every"]) == 0 or stop:
            checkpoint(out_dir / "last.pt", full=True)
        if stop:
            break
    log_file.close()
    print(file=sys.stderr)
    return out_dir


def _describe_data(cfg: dict[str, Any]) -> str:
    parts = []
    for s in cfg["data"]["train"]:
        name = s.get("path") or "online synthetic (starnet_trt.data.synth)"
        name = name.split("/shared/data/")[-1]
        parts.append(f"{name} w={s.get('weight', 1.0)}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="JSON config (see starnet_trt/configs/); defaults otherwise")
    parser.add_argument("--resume", help="continue from a last.pt written by an earlier run")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config entry")


def run(args: argparse.Namespace) -> int:
    import torch

    cfg = load_config(args.config, args.set)
    if (args.device or "cpu").startswith("cpu") and not torch.cuda.is_available():
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = train(cfg, resume=args.resume, device_name=args.device)
    print(f"checkpoints in {out}")
    return 0
