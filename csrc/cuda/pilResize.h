// Plain-C++ launcher for resize_normalize with PIL's bicubic resampling (ResizeMode::pilBicubic).
#pragma once

#include "core/imageDesc.h"
#include "core/resizeMode.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace starnet
{

//! Same contract as launchResizeNormalize (csrc/cuda/resizeNormalize.h), which forwards here when
//! `mode.pilBicubic` is set. Output width + height must stay under 700 pixels (window table in shared memory).
cudaError_t launchPilResizeNormalize(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut,
    bool outHalf, int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, int32_t* dWidths,
    cudaStream_t stream, ResizeMode mode);

} // namespace starnet
