// CPU entry point of CTC greedy decoding (see csrc/core/ctcGreedyDecodeImpl.h for the per-step math).
#pragma once

#include <cstdint>

namespace starnet
{

//! Strided [N, T, C] scores; strides in elements (may be negative). `isHalf` selects IEEE float16 storage.
struct ScoresView
{
    const void* data{nullptr};
    bool isHalf{false};
    int64_t batch{0};
    int64_t steps{0};
    int64_t classes{0};
    int64_t strideN{0};
    int64_t strideT{0};
    int64_t strideC{0};
};

//! Decodes every sample. Outputs: indices [N, T] (kept classes first, padded with -1), lengths [N],
//! confidences [N]. Returns -1 on success, otherwise the index of the first sample containing NaN (its outputs
//! are unspecified). Does not throw; may run without the GIL.
int64_t ctcGreedyDecodeCPU(const ScoresView& scores, int32_t blank, int32_t* indices, int32_t* lengths,
    float* confidences, int32_t numThreads);

} // namespace starnet
