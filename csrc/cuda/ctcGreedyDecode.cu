// One warp per sample: the lanes split the classes of a time step, a shuffle reduction finds the argmax (lowest
// index on ties, like numpy), and lane 0 runs the sequential collapse with the shared ctcGreedyDecodeImpl.h.
#include "cuda/ctcGreedyDecode.h"

#include "core/ctcGreedyDecodeImpl.h"

#include "cuda/deviceValue.cuh"

#include <cuda_fp16.h>

namespace starnet
{
namespace
{

constexpr int kWARPS_PER_BLOCK = 4;
constexpr unsigned kFULL_MASK = 0xffffffffu;

using device::loadValue;

template <typename T>
__global__ void ctcGreedyDecodeKernel(const T* __restrict__ scores, int32_t batch, int32_t steps, int32_t classes,
    int32_t blank, int32_t* __restrict__ indices, int32_t* __restrict__ lengths, float* __restrict__ confidences,
    int32_t* __restrict__ nanFlags)
{
    const int32_t lane = threadIdx.x % 32;
    const int32_t n = blockIdx.x * kWARPS_PER_BLOCK + threadIdx.x / 32;
    if (n >= batch)
    {
        return; // whole warp leaves together: n is uniform within a warp
    }
    ctc::CollapseState state = ctc::collapseInit();
    bool sawNan = false;
    int32_t* row = indices + static_cast<int64_t>(n) * steps;
    for (int32_t t = 0; t < steps; ++t)
    {
        const T* step = scores + (static_cast<int64_t>(n) * steps + t) * classes;
        ctc::ArgMax best = ctc::argMaxInit();
        bool laneNan = false;
        for (int32_t c = lane; c < classes; c += 32)
        {
            const float v = loadValue(step, c);
            laneNan |= isnan(v);
            ctc::argMaxUpdate(best, v, c);
        }
        sawNan |= __any_sync(kFULL_MASK, laneNan) != 0;
        for (int32_t offset = 16; offset > 0; offset /= 2)
        {
            ctc::ArgMax other;
            other.value = __shfl_down_sync(kFULL_MASK, best.value, offset);
            other.index = __shfl_down_sync(kFULL_MASK, best.index, offset);
            best = ctc::argMaxMerge(best, other);
        }
        if (lane == 0 && ctc::collapseStep(state, best, blank))
        {
            row[state.length - 1] = best.index;
        }
    }
    if (lane == 0)
    {
        for (int32_t t = state.length; t < steps; ++t)
        {
            row[t] = -1;
        }
        if (nanFlags != nullptr)
        {
            nanFlags[n] = sawNan ? 1 : 0;
            lengths[n] = state.length;
            confidences[n] = ctc::confidence(state);
        }
        else
        {
            // No flag buffer (the TensorRT plugin): a sample whose scores hold NaN reports length -1, no
            // indices and NaN confidence, so the runtime can name it while the other samples stay valid.
            if (sawNan)
            {
                for (int32_t t = 0; t < steps; ++t)
                {
                    row[t] = -1;
                }
            }
            lengths[n] = sawNan ? -1 : state.length;
            confidences[n] = sawNan ? NAN : ctc::confidence(state);
        }
    }
}

} // namespace

cudaError_t launchCtcGreedyDecode(const void* dScores, bool isHalf, int32_t batch, int32_t steps, int32_t classes,
    int32_t blank, int32_t* dIndices, int32_t* dLengths, float* dConfidences, int32_t* dNanFlags, cudaStream_t stream)
{
    if (batch <= 0 || steps < 0 || classes <= 0)
    {
        return cudaErrorInvalidValue;
    }
    const dim3 block(32 * kWARPS_PER_BLOCK);
    const dim3 grid((batch + kWARPS_PER_BLOCK - 1) / kWARPS_PER_BLOCK);
    if (isHalf)
    {
        ctcGreedyDecodeKernel<<<grid, block, 0, stream>>>(static_cast<const __half*>(dScores), batch, steps, classes,
            blank, dIndices, dLengths, dConfidences, dNanFlags);
    }
    else
    {
        ctcGreedyDecodeKernel<<<grid, block, 0, stream>>>(static_cast<const float*>(dScores), batch, steps, classes,
            blank, dIndices, dLengths, dConfidences, dNanFlags);
    }
    return cudaGetLastError();
}

} // namespace starnet
