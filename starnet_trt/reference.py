"""Pure NumPy/OpenCV references that copy PaddleOCR line by line.

They are the oracles of the native core's tests and the baselines of its benchmarks, so they stay deliberately
naive: one image / one sample at a time, exactly as PaddleOCR's ``tools/infer/predict_rec.py`` and
``ppocr/postprocess/rec_postprocess.py`` do it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["ctc_label_decode", "ctc_prefix_beam_search", "resize_norm_img"]


def resize_norm_img(img: np.ndarray, image_shape: Sequence[int] = (3, 32, 100)) -> np.ndarray:
    """PaddleOCR ``resize_norm_img``: keep-ratio resize to the model height, normalise to [-1, 1], pad right.

    Args:
        img: uint8 image, HxWx3 BGR for ``image_shape[0] == 3`` or HxW gray for ``image_shape[0] == 1``.
        image_shape: ``(C, H, W)`` of the model input.

    Returns:
        float32 array ``[C, H, W]``; columns past the resized width are 0.

    Example:
        >>> resize_norm_img(np.zeros((64, 128, 3), np.uint8)).shape
        (3, 32, 100)
    """
    img_c, img_h, img_w = image_shape
    h, w = img.shape[:2]
    ratio = w / float(h)
    if math.ceil(img_h * ratio) > img_w:
        resized_w = img_w
    else:
        resized_w = int(math.ceil(img_h * ratio))  # noqa: RUF046 (verbatim PaddleOCR)
    resized_image = cv2.resize(img, (resized_w, img_h))
    resized_image = resized_image.astype("float32")
    if img_c == 1:
        resized_image = resized_image / 255
        resized_image = resized_image[np.newaxis, :]
    else:
        resized_image = resized_image.transpose((2, 0, 1)) / 255
    resized_image -= 0.5
    resized_image /= 0.5
    padding_im = np.zeros((img_c, img_h, img_w), dtype=np.float32)
    padding_im[:, :, 0:resized_w] = resized_image
    return padding_im


def ctc_label_decode(probs: np.ndarray, character: Sequence[str]) -> list[tuple[str, float]]:
    """PaddleOCR ``CTCLabelDecode.__call__``: argmax per step, drop repeats and the blank (class 0), mean score.

    Args:
        probs: ``[N, T, C]`` scores (softmax probabilities in PaddleOCR).
        character: text of every class id; ``character[0]`` is the blank and is never emitted, so
            ``len(character)`` must equal ``C``.

    Returns:
        One ``(text, confidence)`` per sample; confidence is the mean of the kept maxima, 0.0 when nothing was kept
        (as in PaddleOCR after v2.0, which returned NaN there).

    Example:
        >>> ctc_label_decode(np.eye(3, dtype=np.float32)[None, [1, 0, 2]], ["-", "a", "b"])
        [('ab', 1.0)]
    """
    if len(character) != probs.shape[2]:
        raise ValueError(
            f"character: expected {probs.shape[2]} entries (one per class, blank first), got {len(character)}"
        )
    preds_idx = probs.argmax(axis=2)
    preds_prob = probs.max(axis=2)
    ignored_tokens = [0]
    result_list = []
    for batch_idx in range(len(preds_idx)):
        char_list = []
        conf_list = []
        for idx in range(len(preds_idx[batch_idx])):
            if preds_idx[batch_idx][idx] in ignored_tokens:
                continue
            if idx > 0 and preds_idx[batch_idx][idx - 1] == preds_idx[batch_idx][idx]:
                continue
            char_list.append(character[int(preds_idx[batch_idx][idx])])
            conf_list.append(preds_prob[batch_idx][idx])
        text = "".join(char_list)
        result_list.append((text, float(np.mean(conf_list if len(conf_list) > 0 else [0]))))
    return result_list


def ctc_prefix_beam_search(probs: np.ndarray, beam_width: int = 10, blank: int = 0) -> tuple[list[int], float]:
    """Textbook CTC prefix beam search (Hannun et al. 2014) for one ``[T, C]`` probability matrix.

    PaddleOCR has no CTC beam search, so this plain-Python version is the oracle of the native one: same loop order,
    same arithmetic (probabilities rescaled by the best total after every step, the log of the scales accumulated),
    same tie-breaking (higher probability, then the lexicographically smaller prefix).

    Returns:
        ``(class ids, natural-log probability)`` of the best prefix.

    Example:
        >>> ctc_prefix_beam_search(np.array([[0.4, 0.6], [0.4, 0.6]]))[0]
        [1]
    """
    beams: list[tuple[tuple[int, ...], float, float]] = [((), 1.0, 0.0)]  # prefix, p(ends in blank), p(non-blank)
    log_scale = 0.0
    for step in np.asarray(probs, dtype=np.float64).tolist():
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, p_b, p_nb in beams:
            total = p_b + p_nb
            for c, p in enumerate(step):
                if c == blank:
                    nxt.setdefault(prefix, [0.0, 0.0])[0] += total * p
                    continue
                grown = nxt.setdefault((*prefix, c), [0.0, 0.0])
                if prefix and prefix[-1] == c:
                    grown[1] += p_b * p
                    nxt.setdefault(prefix, [0.0, 0.0])[1] += p_nb * p
                else:
                    grown[1] += total * p
        ranked = sorted(nxt.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
        beams = [(prefix, pb, pnb) for prefix, (pb, pnb) in ranked[:beam_width]]
        scale = beams[0][1] + beams[0][2]
        if scale > 0.0:
            beams = [(prefix, pb / scale, pnb / scale) for prefix, pb, pnb in beams]
            log_scale += math.log(scale)
    prefix, p_b, p_nb = beams[0]
    total = p_b + p_nb
    return list(prefix), (math.log(total) if total > 0 else -math.inf) + log_scale
