#include "cpu/ctcGreedyDecodeCPU.h"

#include "core/ctcGreedyDecodeImpl.h"
#include "core/half.h"
#include "cpu/parallelFor.h"

#include <atomic>
#include <cmath>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace starnet
{
namespace
{

//! Loaders: named types (not lambdas) so decodeOne can pick the SIMD path for contiguous float32 at compile time.
struct LoadFloat
{
    const float* data;
    float operator()(int64_t i) const
    {
        return data[i];
    }
};

struct LoadHalf
{
    const uint16_t* data;
    float operator()(int64_t i) const
    {
        return halfBitsToFloat(data[i]);
    }
};

#if defined(__SSE2__)
//! Four interleaved running maxima (lane k sees classes k, k + 4, ...), merged with ctc::argMaxMerge, which keeps
//! the lowest index on ties: the result equals the scalar first-index argmax. A single running maximum is a serial
//! compare/select chain; the lanes make it one SIMD step per four classes. Returns the number of classes consumed.
int64_t argMaxFloatSSE2(const float* row, int64_t classes, ctc::ArgMax& best, bool& sawNan)
{
    if (classes < 4)
    {
        return 0;
    }
    __m128 value = _mm_loadu_ps(row);
    __m128i index = _mm_setr_epi32(0, 1, 2, 3);
    __m128 nan = _mm_cmpunord_ps(value, value);
    const __m128i step = _mm_set1_epi32(4);
    __m128i current = index;
    int64_t c = 4;
    for (; c + 4 <= classes; c += 4)
    {
        const __m128 v = _mm_loadu_ps(row + c);
        current = _mm_add_epi32(current, step);
        nan = _mm_or_ps(nan, _mm_cmpunord_ps(v, v));
        const __m128 take = _mm_cmpgt_ps(v, value); // strict: earlier classes win ties within a lane
        value = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, value));
        const __m128i takeI = _mm_castps_si128(take);
        index = _mm_or_si128(_mm_and_si128(takeI, current), _mm_andnot_si128(takeI, index));
    }
    alignas(16) float values[4];
    alignas(16) int32_t indices[4];
    _mm_store_ps(values, value);
    _mm_store_si128(reinterpret_cast<__m128i*>(indices), index);
    for (int k = 0; k < 4; ++k)
    {
        best = ctc::argMaxMerge(best, ctc::ArgMax{values[k], indices[k]});
    }
    sawNan |= _mm_movemask_ps(nan) != 0;
    return c;
}
#endif

//! kUNIT_STRIDE: classes are contiguous (the usual layout), so the inner loop walks a pointer instead of multiplying
//! by a runtime stride.
template <bool kUNIT_STRIDE, typename Load>
bool decodeOne(const ScoresView& s, int64_t n, int32_t blank, int32_t* indices, int32_t& length, float& conf, Load load)
{
    const int64_t strideC = kUNIT_STRIDE ? 1 : s.strideC;
    ctc::CollapseState state = ctc::collapseInit();
    for (int64_t t = 0; t < s.steps; ++t)
    {
        const int64_t base = n * s.strideN + t * s.strideT;
        ctc::ArgMax best = ctc::argMaxInit();
        bool sawNan = false;
        int64_t c = 0;
#if defined(__SSE2__)
        if constexpr (kUNIT_STRIDE && std::is_same_v<Load, LoadFloat>)
        {
            c = argMaxFloatSSE2(load.data + base, s.classes, best, sawNan);
        }
#endif
        for (; c < s.classes; ++c)
        {
            const float v = load(base + c * strideC);
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
        const LoadHalf loadHalf{f16};
        const LoadFloat loadFloat{f32};
        const bool unit = scores.strideC == 1;
        int32_t& len = lengths[n];
        float& conf = confidences[n];
        bool ok;
        if (scores.isHalf)
        {
            ok = unit ? decodeOne<true>(scores, n, blank, row, len, conf, loadHalf)
                      : decodeOne<false>(scores, n, blank, row, len, conf, loadHalf);
        }
        else
        {
            ok = unit ? decodeOne<true>(scores, n, blank, row, len, conf, loadFloat)
                      : decodeOne<false>(scores, n, blank, row, len, conf, loadFloat);
        }
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
