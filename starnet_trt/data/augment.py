"""Photometric and geometric distortions for word images.

The same primitives serve two users:

* :mod:`starnet_trt.data.synth` applies them (stronger) while rendering synthetic words,
  warping the text mask together with the image so it can crop around the text.
* :func:`augment` applies a light random mix to REAL word crops during fine-tuning.

Every random choice comes from the ``numpy.random.Generator`` passed in, so results are
reproducible given the generator's seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# Geometric ops take a list of arrays (e.g. [image, text_mask]) that must move together.
# Images use a reflected border so warps do not introduce black corners that a real
# camera crop would never have; masks use a zero border.


def _border(arr: np.ndarray, is_mask: bool) -> dict:
    if is_mask:
        return {"borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    return {"borderMode": cv2.BORDER_REFLECT_101}


def warp_affine(
    arrays: Sequence[np.ndarray], angle: float, shear: float = 0.0, masks: Sequence[bool] | None = None
) -> list[np.ndarray]:
    """Rotate (degrees, counter-clockwise) and shear (x += shear * y) about the centre."""
    h, w = arrays[0].shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    sh = np.array([[1.0, shear, -shear * h / 2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    m = (np.vstack([rot, [0.0, 0.0, 1.0]]) @ sh)[:2]
    masks = masks or [False] * len(arrays)
    return [
        cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, **_border(a, k))
        for a, k in zip(arrays, masks, strict=False)
    ]


def warp_perspective(
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    strength: float,
    box: tuple[int, int, int, int] | None = None,
    masks: Sequence[bool] | None = None,
) -> list[np.ndarray]:
    """Random perspective: move the corners of ``box`` (x0, y0, x1, y1) by up to
    ``strength`` x box height, mostly as a rotation of the text plane about a vertical
    or horizontal axis (what a camera off the text's normal produces)."""
    h, w = arrays[0].shape[:2]
    x0, y0, x1, y1 = box if box is not None else (0, 0, w, h)
    bh = max(1.0, y1 - y0)
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    d = strength * bh
    # Side shrink (yaw) + top/bottom shrink (pitch) + independent corner jitter.
    yaw = rng.uniform(-d, d)
    pitch = rng.uniform(-d, d) * 0.5
    jitter = rng.uniform(-0.3 * d, 0.3 * d, size=(4, 2))
    dst = src.copy()
    dst[0] += [pitch, max(0.0, yaw)]
    dst[1] += [-pitch, max(0.0, -yaw)]
    dst[2] += [pitch, -max(0.0, -yaw)]
    dst[3] += [-pitch, -max(0.0, yaw)]
    dst = (dst + jitter).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    masks = masks or [False] * len(arrays)
    return [
        cv2.warpPerspective(a, m, (w, h), flags=cv2.INTER_LINEAR, **_border(a, k))
        for a, k in zip(arrays, masks, strict=False)
    ]


def warp_curve(
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    amplitude: float,
    masks: Sequence[bool] | None = None,
) -> list[np.ndarray]:
    """Bend the text line: an arc (parabola) or a sine wave of vertical displacement.

    Args:
        arrays: Arrays of identical height/width.
        rng: Random source.
        amplitude: Maximum vertical displacement in pixels.
        masks: Which arrays are masks (zero border).
    """
    h, w = arrays[0].shape[:2]
    xs = np.arange(w, dtype=np.float32)
    u = (xs - w / 2.0) / max(1.0, w / 2.0)  # -1..1 across the canvas
    if rng.random() < 0.6:
        dy = amplitude * (u**2 - 0.5) * rng.choice([-1.0, 1.0])  # arc: text on a circle
    else:
        periods = rng.uniform(0.4, 1.5)
        phase = rng.uniform(0, 2 * np.pi)
        dy = amplitude * np.sin(np.pi * periods * u + phase)
    map_x = np.broadcast_to(xs, (h, w)).astype(np.float32)
    map_y = (np.arange(h, dtype=np.float32)[:, None] + dy[None, :].astype(np.float32)).astype(np.float32)
    masks = masks or [False] * len(arrays)
    return [cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR, **_border(a, k)) for a, k in zip(arrays, masks, strict=False)]


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur (out-of-focus camera)."""
    return cv2.GaussianBlur(img, (0, 0), sigmaX=max(0.1, sigma))


def motion_blur(img: np.ndarray, rng: np.random.Generator, length: int) -> np.ndarray:
    """Linear motion blur of ``length`` pixels in a random, mostly horizontal direction."""
    length = max(2, int(length))
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0
    angle = rng.uniform(-30, 30) if rng.random() < 0.8 else rng.uniform(0, 180)
    rot = cv2.getRotationMatrix2D(((length - 1) / 2.0, (length - 1) / 2.0), angle, 1.0)
    k = cv2.warpAffine(k, rot, (length, length))
    s = k.sum()
    if s <= 0:
        return img
    return cv2.filter2D(img, -1, k / s, borderType=cv2.BORDER_REFLECT_101)


def gaussian_noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Additive sensor noise; colour or luminance-only."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        n = rng.normal(0.0, sigma, size=(h, w, 1)).astype(np.float32)
    else:
        n = rng.normal(0.0, sigma, size=img.shape).astype(np.float32)
    return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (blocking / ringing artifacts)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return img
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def low_resolution(img: np.ndarray, factor: float) -> np.ndarray:
    """Downscale by ``factor`` (<1) and back: the look of a small, upsampled crop."""
    h, w = img.shape[:2]
    sw, sh = max(2, round(w * factor)), max(2, round(h * factor))
    small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def shading(img: np.ndarray, rng: np.random.Generator, depth: float) -> np.ndarray:
    """Multiply by a smooth random light field dropping to ``1 - depth`` (lighting, shadows)."""
    h, w = img.shape[:2]
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xx * np.cos(ang) + yy * np.sin(ang)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    field = 1.0 - depth * t
    return np.clip(img.astype(np.float32) * field[..., None], 0, 255).astype(np.uint8)


def contrast_brightness(img: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """``alpha * (img - mean) + mean + beta``: contrast about the mean, then brightness."""
    f = img.astype(np.float32)
    mean = float(f.mean())
    return np.clip(alpha * (f - mean) + mean + beta, 0, 255).astype(np.uint8)


def colour_jitter(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random per-channel gains (white balance) and occasional desaturation/inversion."""
    f = img.astype(np.float32)
    gains = 1.0 + rng.uniform(-strength, strength, size=3).astype(np.float32)
    f = f * gains[None, None, :]
    r = rng.random()
    if r < 0.15:  # greyscale camera / print
        g = cv2.cvtColor(np.clip(f, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
    if r < 0.20:  # light-on-dark vs dark-on-light
        f = 255.0 - f
    return np.clip(f, 0, 255).astype(np.uint8)


def crop_jitter(img: np.ndarray, rng: np.random.Generator, max_frac: float) -> np.ndarray:
    """Move each border in or out by up to ``max_frac`` x height (padding by replication).

    Real detector boxes are sometimes tight (cutting into glyphs), sometimes loose.
    """
    h, w = img.shape[:2]
    d = rng.uniform(-max_frac, max_frac, size=4) * h
    top, bottom, left, right = (round(v) for v in d)
    # Never cut more than a small part of the word away.
    top = max(top, -h // 8)
    bottom = max(bottom, -h // 8)
    left = max(left, -w // 10)
    right = max(right, -w // 10)
    pad = [max(0, top), max(0, bottom), max(0, left), max(0, right)]
    if any(pad):
        img = cv2.copyMakeBorder(img, pad[0], pad[1], pad[2], pad[3], cv2.BORDER_REPLICATE)
    h2, w2 = img.shape[:2]
    y0, y1 = max(0, -top), h2 - max(0, -bottom)
    x0, x1 = max(0, -left), w2 - max(0, -right)
    if y1 - y0 < 4 or x1 - x0 < 4:
        return img
    return img[y0:y1, x0:x1]


def augment(img_bgr: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Light random augmentation of a real word crop for fine-tuning.

    Applies, each with some probability: crop jitter, small rotation/shear, perspective,
    curve, Gaussian or motion blur, low resolution, contrast/brightness and colour
    jitter, noise and JPEG. Distortions are kept mild so the label stays readable.

    Args:
        img_bgr: ``HxWx3`` uint8 BGR image (a greyscale ``HxW`` image is accepted and
            returned as BGR).
        rng: Random source; the same generator state gives the same output.
        strength: Scales magnitudes (0 = almost nothing, 1 = default).

    Returns:
        A new ``H'xW'x3`` uint8 BGR image (size may change slightly by crop jitter).
    """
    img = np.asarray(img_bgr)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.dtype != np.uint8:
        raise TypeError(f"augment expects uint8 images, got {img.dtype}")
    img = np.ascontiguousarray(img)
    s = float(strength)

    if rng.random() < 0.5:
        img = crop_jitter(img, rng, 0.08 * s)
    if rng.random() < 0.4:
        img = warp_affine([img], rng.uniform(-4, 4) * s, rng.uniform(-0.15, 0.15) * s)[0]
    if rng.random() < 0.3:
        img = warp_perspective([img], rng, 0.12 * s)[0]
    if rng.random() < 0.2:
        img = warp_curve([img], rng, rng.uniform(0.02, 0.08) * s * img.shape[0])[0]

    r = rng.random()
    if r < 0.2:
        img = gaussian_blur(img, rng.uniform(0.3, 1.0 + 0.5 * s))
    elif r < 0.3:
        img = motion_blur(img, rng, int(rng.integers(2, 2 + max(1, int(3 * s)))))
    elif r < 0.4:
        img = low_resolution(img, rng.uniform(max(0.3, 1 - 0.5 * s), 0.9))

    if rng.random() < 0.4:
        img = contrast_brightness(img, rng.uniform(1 - 0.4 * s, 1 + 0.3 * s), rng.uniform(-30, 30) * s)
    if rng.random() < 0.3:
        img = colour_jitter(img, rng, 0.2 * s)
    if rng.random() < 0.25:
        img = gaussian_noise(img, rng, rng.uniform(1, 8) * s)
    if rng.random() < 0.25:
        img = jpeg(img, int(rng.integers(max(10, int(90 - 60 * s)), 95)))
    return img
