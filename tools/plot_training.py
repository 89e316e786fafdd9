"""Plot a training run's ``log.csv`` (loss and validation accuracy against samples seen) to a PNG.

Usage: python tools/plot_training.py runs/starnet_mv3/log.csv -o docs/training_curve.png
       python tools/plot_training.py runs/starnet_mv3_stage2/log.csv --samples-offset 704000 -o docs/x.png
(a stage started from earlier weights: its x axis counts the earlier stages' samples too)

Drawn with OpenCV (already a dependency) so no plotting library is needed.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import cv2
import numpy as np

COLOURS = [(200, 80, 30), (40, 140, 40), (30, 30, 200), (150, 50, 150), (0, 150, 200)]


def _panel(
    series: dict[str, list[tuple[float, float]]], title: str, size=(900, 360), ymin=None, ymax=None, xmin=0.0
) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 40, 50
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    if not xs:
        return img
    x0, x1 = xmin, max(xs) if max(xs) > xmin else xmin + 1.0
    y0 = min(ys) if ymin is None else ymin
    y1 = max(ys) if ymax is None else ymax
    y1 = y1 if y1 > y0 else y0 + 1

    def px(x: float, y: float) -> tuple[int, int]:
        return (
            int(left + (x - x0) / (x1 - x0) * (w - left - right)),
            int(h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)),
        )

    cv2.rectangle(img, (left, top), (w - right, h - bottom), (0, 0, 0), 1)
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        _, yp = px(0, yv)
        cv2.line(img, (left, yp), (w - right, yp), (225, 225, 225), 1)
        cv2.putText(img, f"{yv:.2f}", (5, yp + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        xv = x0 + (x1 - x0) * i / 4
        xp, _ = px(xv, y0)
        cv2.putText(img, f"{xv / 1000:.0f}k", (xp - 10, h - bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(img, title, (left, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    cv2.putText(img, "samples seen", (w // 2 - 40, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    for k, (name, pts) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        pts = sorted(pts)
        poly = np.array([px(x, y) for x, y in pts], np.int32)
        cv2.polylines(img, [poly], False, colour, 2 if len(pts) > 1 else 1)
        for p in poly if len(pts) < 60 else []:
            cv2.circle(img, tuple(int(v) for v in p), 3, colour, -1)
        cv2.putText(img, name, (left + 12, top + 18 + 18 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    return img


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("log_csv")
    ap.add_argument("-o", "--out", default="training_curve.png")
    ap.add_argument("--smooth", type=int, default=10, help="moving average window for the loss (log rows)")
    ap.add_argument("--samples-offset", type=int, default=0, help="samples seen before this log's run started")
    args = ap.parse_args()
    loss: list[tuple[float, float]] = []
    val: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with open(args.log_csv, newline="") as f:
        for row in csv.DictReader(f):
            x = float(row["samples"]) + args.samples_offset
            if row["split"] == "train":
                loss.append((x, float(row["value"])))
            else:
                val[f"val acc: {row['metric']}"].append((x, float(row["value"])))
    if loss and args.smooth > 1:
        ys = np.convolve([y for _, y in loss], np.ones(args.smooth) / args.smooth, mode="valid")
        loss = list(zip([x for x, _ in loss][args.smooth - 1 :], ys.tolist(), strict=True))
    x0 = float(args.samples_offset)
    top = _panel({"CTC loss (train, smoothed)": loss}, "training loss", xmin=x0)
    bottom = _panel(
        dict(val), "validation word accuracy (held-out train slices + synthetic)", ymin=0.0, ymax=1.0, xmin=x0
    )
    cv2.imwrite(args.out, np.vstack([top, bottom]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
