// CPU twin of the fused TPS grid sampler (see csrc/core/tpsGridSampleImpl.h for the math shared with the kernel).
#pragma once

#include "core/tpsGridSampleImpl.h"

#include <cstdint>
#include <vector>

namespace starnet
{

//! Throws std::invalid_argument naming the bad field (F must be even in [4, 32]; sizes positive and each plane
//! below 2^31 pixels; padding zeros or border).
void validateTpsShape(const TpsShape& shape);

//! The [outHeight * outWidth, F] float32 matrix A of the reference model (grid = A @ fiducials), computed with
//! the kernel's per-pixel row function. Cached per (F, outHeight, outWidth); thread-safe.
const std::vector<float>& tpsGridMatrix(int32_t numFiducials, int32_t outHeight, int32_t outWidth);

//! Rectifies every sample. `imageHalf` selects IEEE float16 image/output storage, `fiducialsHalf` float16
//! fiducials. `table` (optional) is the [outHeight * outWidth, F] float32 matrix to use instead of
//! tpsGridMatrix (the plugin's table mode: the exported model's own constant). Does not throw after
//! validateTpsShape; may run without the GIL.
void tpsGridSampleCPU(const TpsShape& shape, const void* image, bool imageHalf, const void* fiducials,
    bool fiducialsHalf, void* out, int32_t numThreads, const float* table = nullptr);

} // namespace starnet
