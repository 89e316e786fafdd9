#include "cpu/ctcGreedyDecodeCPU.h"

#include "core/ctcGreedyDecodeImpl.h"
#include "core/half.h"
#include "cpu/parallelFor.h"

#include <atomic>
#include <cmath>

namespace starnet
{
namespace
{

template <typename Load>
bool decodeOne(const ScoresView& s, int64_t n, int32_t blank, int32_t* indices, int32_t& length, float& conf,
    Load load)
{
    ctc::CollapseState state = ctc::collapseInit();
    for (int64_t t = 0; t < s.steps; ++t)
    {
        const int64_t base = n * s.strideN + t * s.strideT;
        ctc::ArgMax best = ctc::argMaxInit();
        bool sawNan = false;
        for (int64_t c = 0; c < s.classes; ++c)
        {
            const float v = load(base + c * s.strideC);
            sawNan |= std::isnan(v);
            ctc::argMaxUpdate(best, v, static_cast<int32_t>(c));
        }
        if (sawNan)
        {
            return false;
        }
        if (ctc::collapseStep(state, best, blank))
        {
            indices[state.length - 1] = best.index;
        }
    }
    for (int64_t t = state.length; t < s.steps; ++t)
    {
        indices[t] = -1;
    }
    length = state.length;
    conf = ctc::confidence(state);
    return true;
}

} // namespace

int64_t ctcGreedyDecodeCPU(
    const ScoresView& scores, int32_t blank, int32_t* indices, int32_t* lengths, float* confidences, int32_t numThreads)
{
    // Smallest failing sample index, so the error names the same sample regardless of thread timing.
    std::atomic<int64_t> firstNan{-1};
    const auto* f32 = static_cast<const float*>(scores.data);
    const auto* f16 = static_cast<const uint16_t*>(scores.data);
    parallelFor(scores.batch, numThreads, [&](int32_t, int64_t n) {
        int32_t* row = indices + n * scores.steps;
        const bool ok = scores.isHalf
            ? decodeOne(scores, n, blank, row, lengths[n], confidences[n],
                [f16](int64_t i) { return halfBitsToFloat(f16[i]); })
            : decodeOne(scores, n, blank, row, lengths[n], confidences[n], [f32](int64_t i) { return f32[i]; });
        if (!ok)
        {
            int64_t seen = firstNan.load();
            while ((seen < 0 || n < seen) && !firstNan.compare_exchange_weak(seen, n))
            {
            }
        }
    });
    return firstNan.load();
}

} // namespace starnet
