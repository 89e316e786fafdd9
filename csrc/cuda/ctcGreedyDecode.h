// Plain-C++ launcher for the CTC greedy-decode CUDA kernel.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace starnet
{

//! Decodes contiguous [N, T, C] device scores (float32, or IEEE float16 when `isHalf`), one warp per sample.
//! Outputs (device): indices [N, T] padded with -1, lengths [N], confidences [N], nanFlags [N] (1 when the
//! sample contains a NaN; its other outputs are then unspecified). With dNanFlags == nullptr a NaN sample instead
//! gets length -1, all indices -1 and confidence NaN (the plugin's contract); the other samples are unaffected.
cudaError_t launchCtcGreedyDecode(const void* dScores, bool isHalf, int32_t batch, int32_t steps, int32_t classes,
    int32_t blank, int32_t* dIndices, int32_t* dLengths, float* dConfidences, int32_t* dNanFlags, cudaStream_t stream);

} // namespace starnet
