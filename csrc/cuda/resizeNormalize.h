// Plain-C++ launcher for the resize_normalize CUDA kernel (no CUDA syntax, includable from .cpp files).
#pragma once

#include "core/imageDesc.h"
#include "core/resizeMode.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace starnet
{

//! One launch for a whole batch of differently sized images packed in `dImages`; `dDescs[i].offset` is the byte
//! offset of image i's pixel (0, 0, 0) inside `dImages` (`data` is ignored). Writes NCHW [N, outChannels, outH,
//! outW] to `dOut` (float32, or float16 when `outHalf`; outChannels 1 or 3) and the valid widths to `dWidths`.
//! All pointers are device memory; each image must be under 2 GiB (in-image offsets are 32-bit). `mode` selects
//! keep-ratio + pad (default, PaddleOCR) or stretch, and for 1-channel outputs gray after or before the resize.
//! Returns cudaErrorInvalidValue for a bad shape, mode or tuning (pixelsPerThread not 0, 1 or 2).
cudaError_t launchResizeNormalize(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut,
    bool outHalf, int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, int32_t* dWidths,
    cudaStream_t stream, ResizeMode mode = {}, ResizeTuning tuning = {});

} // namespace starnet
