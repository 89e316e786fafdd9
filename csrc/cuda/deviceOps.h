// Host-memory conveniences around the CUDA launchers: upload, launch, download. They let Python tests compare the
// kernels with the CPU twins on a GPU machine; production pipelines call the launchers on their own buffers.
#pragma once

#include "core/imageDesc.h"
#include "cpu/ctcGreedyDecodeCPU.h"
#include "cpu/resizeNormalizeCPU.h"

#include <cstdint>
#include <vector>

namespace starnet
{

//! Number of visible CUDA devices; 0 when there is no driver or no GPU. Never throws.
int32_t cudaDeviceCount() noexcept;

//! Same contract as resizeNormalizeCPU, computed on the current device. Throws std::runtime_error on CUDA errors.
void resizeNormalizeDevice(
    const std::vector<ImageDesc>& images, const ResizeOutput& out, bool inputIsRgb, int32_t* widths);

//! Same contract as ctcGreedyDecodeCPU for C-contiguous scores. Throws std::runtime_error on CUDA errors.
int64_t ctcGreedyDecodeDevice(
    const ScoresView& scores, int32_t blank, int32_t* indices, int32_t* lengths, float* confidences);

} // namespace starnet
