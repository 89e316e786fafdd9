"""Trainer: a few real optimisation steps on rendered words, exact resume, config validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from starnet_trt import train  # noqa: E402
from starnet_trt.model.checkpoint import load_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def word_list(tmp_path_factory) -> str:
    """A tiny PaddleOCR-style label file of rendered words (no ../shared needed)."""
    root = tmp_path_factory.mktemp("words")
    (root / "img").mkdir()
    lines = []
    for i, word in enumerate(["cat", "Dog", "tree", "42", "Hello", "sky", "RED", "bus"]):
        img = np.full((40, 30 + 22 * len(word), 3), 230, np.uint8)
        cv2.putText(img, word, (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2)
        cv2.imwrite(str(root / "img" / f"{i}.png"), img)
        lines.append(f"img/{i}.png\t{word}")
    (root / "gt.txt").write_text("\n".join(lines) + "\n")
    return str(root / "gt.txt")


def _cfg(word_list: str, out_dir, steps: int, **kw) -> dict:
    overrides = [
        f"out_dir={out_dir}",
        f"max_steps={steps}",
        "batch_size=4",
        "num_workers=0",
        "val_every=1000",
        "ckpt_every=1",
        "log_every=1",
        "schedule.warmup_steps=2",
    ]
    cfg = train.load_config(None, overrides)
    cfg["data"] = {"train": [{"path": word_list, "augment": True}], "val": [{"path": word_list, "limit": 8}]}
    cfg.update(kw)
    return cfg


def test_training_steps_reduce_loss_and_write_checkpoints(word_list, tmp_path):
    out = train.train(_cfg(word_list, tmp_path / "run", 6), device_name="cpu")
    rows = [r.split(",") for r in (out / "log.csv").read_text().splitlines()[1:]]
    losses = [float(r[4]) for r in rows if r[5] == "train"]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert any(r[5] == "val" for r in rows)
    last = load_checkpoint(out / "last.pt")
    assert last["step"] == 6 and "optimizer" in last
    best = load_checkpoint(out / "best.pt")
    assert "optimizer" not in best and best["arch"] == "starnet_mv3"


def test_resume_is_exact(word_list, tmp_path):
    straight = train.train(_cfg(word_list, tmp_path / "a", 4), device_name="cpu")
    train.train(_cfg(word_list, tmp_path / "b", 2), device_name="cpu")
    resumed = train.train(_cfg(word_list, tmp_path / "b", 4), resume=str(tmp_path / "b" / "last.pt"), device_name="cpu")
    a = load_checkpoint(straight / "last.pt")["model"]
    b = load_checkpoint(resumed / "last.pt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_config_errors(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"arhc": "starnet_mv3"}))
    with pytest.raises(ValueError, match="unknown config keys"):
        train.load_config(bad)
    with pytest.raises(FileNotFoundError):
        train.load_config(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="key=value"):
        train.load_config(None, ["oops"])
    cfg = train.load_config(None, ["optimizer.lr=0.5", "out_dir=x"])
    assert cfg["optimizer"]["lr"] == 0.5 and cfg["optimizer"]["name"] == "adamw"


def test_test_splits_are_refused():
    with pytest.raises(ValueError, match="evaluation only"):
        train.open_source({"path": "/x/shared/data/iiit5k/test.txt"}, "train", 0)


def test_a_run_from_init_weights_carries_the_earlier_stages_totals(word_list, tmp_path):
    """A stage started from init_weights records what the weights had already seen, and export sums the stages."""
    from starnet_trt.export import training_metadata

    first = train.train(_cfg(word_list, tmp_path / "one", 3), device_name="cpu")
    stage1 = load_checkpoint(first / "best.pt")
    second = train.train(_cfg(word_list, tmp_path / "two", 2, init_weights=str(first / "best.pt")), device_name="cpu")
    stage2 = load_checkpoint(second / "last.pt")
    assert stage2["step"] == 2 and stage2["samples_seen"] == 8
    assert stage2["init_weights"] == str(first / "best.pt")
    assert stage2["init_step"] == stage1["step"] and stage2["init_samples_seen"] == stage1["samples_seen"]
    meta = training_metadata(stage2)
    assert meta["starnet.samples_seen"] == str(stage1["samples_seen"] + 8)
    assert meta["starnet.step"] == str(stage1["step"] + 2)
    total = (stage1["train_seconds"] + stage2["train_seconds"]) / 3600
    assert meta["starnet.train_hours"] == f"{total:.2f}"
    assert meta["starnet.training_data"].count("gt.txt") == 2  # both stages' data, in order
    # Resuming the second stage keeps its lineage.
    resumed = train.train(
        _cfg(word_list, tmp_path / "two", 3, init_weights=str(first / "best.pt")),
        resume=str(second / "last.pt"),
        device_name="cpu",
    )
    assert load_checkpoint(resumed / "last.pt")["init_samples_seen"] == stage1["samples_seen"]
    # A third stage sums both earlier ones.
    third = train.train(
        _cfg(word_list, tmp_path / "three", 1, init_weights=str(resumed / "last.pt")), device_name="cpu"
    )
    stage3 = load_checkpoint(third / "last.pt")
    assert stage3["init_samples_seen"] == stage1["samples_seen"] + 12
