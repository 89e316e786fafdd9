// Plain-C++ launcher for the fused TPS grid sampler kernel (no CUDA syntax, includable from .cpp files).
#pragma once

#include "core/tpsGridSampleImpl.h"

#include <cuda_runtime_api.h>

namespace starnet
{

//! One launch rectifies the batch: image [N, C, H, W] (float32, or float16 when `imageHalf`), fiducials [N, F, 2]
//! (float32, or float16 when `fiducialsHalf`), output [N, C, outHeight, outWidth] in the image's dtype. `inverse`
//! comes from tps::inverseDelta(F) (compute it once). All tensors are C-contiguous device memory. The shape must
//! have passed validateTpsShape; returns cudaErrorInvalidValue otherwise. `samplesPerBlock` > 0 overrides the
//! chunk size the launcher picks (tuning only; capped at 96).
cudaError_t launchTpsGridSample(const TpsShape& shape, const tps::InverseDelta& inverse, const void* dImage,
    bool imageHalf, const void* dFiducials, bool fiducialsHalf, void* dOut, cudaStream_t stream,
    int32_t samplesPerBlock = 0);

//! Table mode: the same sampling with the rows of the TPS matrix read from `dTable`, a C-contiguous float32
//! [outHeight * outWidth, F] device matrix (grid = table @ fiducials: the exported model's constant A, or
//! tpsGridMatrix(F, outHeight, outWidth) for STAR-Net's TPS). No double-precision work on the device.
cudaError_t launchTpsGridSampleTable(const TpsShape& shape, const float* dTable, const void* dImage, bool imageHalf,
    const void* dFiducials, bool fiducialsHalf, void* dOut, cudaStream_t stream, int32_t samplesPerBlock = 0);

} // namespace starnet
