"""Type stubs for the native core (``csrc/bindings/module.cpp``); use ``starnet_trt.ops`` for validated wrappers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

has_cuda: bool

def cuda_device_count() -> int: ...
def resize_normalize(
    images: Sequence[npt.NDArray[np.uint8]] | npt.NDArray[np.uint8],
    out: npt.NDArray[np.float32],
    channel_order: str = "bgr",
    num_threads: int = 0,
    resize: str = "keep_ratio_pad_right",
    gray: str = "bt601",
    interpolation: str = "linear",
) -> npt.NDArray[np.int32]: ...
def resize_normalize_cuda(
    images: Sequence[npt.NDArray[np.uint8]] | npt.NDArray[np.uint8],
    out: npt.NDArray[np.float32],
    channel_order: str = "bgr",
    resize: str = "keep_ratio_pad_right",
    gray: str = "bt601",
    interpolation: str = "linear",
) -> npt.NDArray[np.int32]: ...
def ctc_greedy_decode(
    scores: npt.NDArray[np.float32] | npt.NDArray[np.float16], blank: int = 0, num_threads: int = 0
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]: ...
def ctc_greedy_decode_cuda(
    scores: npt.NDArray[np.float32] | npt.NDArray[np.float16], blank: int = 0
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]: ...
def ctc_beam_search_decode(
    scores: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    beam_width: int = 10,
    blank: int = 0,
    num_threads: int = 0,
) -> list[tuple[list[int], float]]: ...
def tps_grid_sample(
    image: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    fiducials: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    out_height: int,
    out_width: int,
    align_corners: bool = True,
    padding_mode: str = "zeros",
    num_threads: int = 0,
    table: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32] | npt.NDArray[np.float16]: ...
def tps_grid_sample_cuda(
    image: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    fiducials: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    out_height: int,
    out_width: int,
    align_corners: bool = True,
    padding_mode: str = "zeros",
    table: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32] | npt.NDArray[np.float16]: ...
def tps_grid_matrix(num_fiducials: int, out_height: int, out_width: int) -> npt.NDArray[np.float32]: ...
def image_descriptors(images: Sequence[tuple[int, int, int, int]]) -> npt.NDArray[np.uint8]: ...

class cuda:  # submodule, present only in CUDA builds; raw device pointers and streams as ints
    @staticmethod
    def tps_grid_sample(
        image: int,
        fiducials: int,
        out: int,
        batch: int,
        channels: int,
        in_height: int,
        in_width: int,
        num_fiducials: int,
        out_height: int,
        out_width: int,
        align_corners: bool,
        padding_mode: str,
        image_half: bool,
        fiducials_half: bool,
        stream: int,
        samples_per_block: int = 0,
        table: int = 0,
    ) -> None: ...
    @staticmethod
    def ctc_greedy_decode(
        scores: int,
        is_half: bool,
        batch: int,
        steps: int,
        classes: int,
        blank: int,
        indices: int,
        lengths: int,
        confidences: int,
        nan_flags: int,
        stream: int,
    ) -> None: ...
    @staticmethod
    def resize_normalize(
        images: int,
        descs: int,
        batch: int,
        out: int,
        out_half: bool,
        out_channels: int,
        out_height: int,
        out_width: int,
        channel_order: str,
        widths: int,
        stream: int,
        resize: str = "keep_ratio_pad_right",
        gray: str = "bt601",
        interpolation: str = "linear",
        bands_per_image: int = 0,
        pixels_per_thread: int = 0,
        source_staging: int = 0,
    ) -> None: ...
