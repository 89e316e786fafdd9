// Per-step math of CTC greedy decoding (PaddleOCR CTCLabelDecode), shared by the CPU loop and the CUDA kernel.
#pragma once

#include "platform.h"

#include <cstdint>
#include <math.h>

namespace starnet
{
namespace ctc
{

//! Running argmax over the classes of one time step. Ties keep the first index (numpy argmax semantics), which is
//! why the comparison is strict. Starting from (-inf, 0) needs no "empty" flag: if every score is -inf the answer is
//! class 0, as in numpy, and a partial result that saw no larger value never wins a merge it should lose.
struct ArgMax
{
    float value;
    int32_t index;
};

STARNET_HD inline ArgMax argMaxInit()
{
    return ArgMax{-INFINITY, 0};
}

STARNET_HD inline void argMaxUpdate(ArgMax& best, float v, int32_t index)
{
    // Selects, not a branch: on real scores the comparison is unpredictable (NaN compares false and is reported
    // separately by the callers).
    const bool take = v > best.value;
    const int32_t mask = -static_cast<int32_t>(take); // all ones when taking; compilers keep this branch-free
    best.value = best.value < v ? v : best.value;     // maxss form; same as `take ? v : value`, NaN keeps value
    best.index = (index & mask) | (best.index & ~mask);
}

//! Merge two partial results (warp lanes, interleaved CPU chains): larger value wins, the smaller index on ties.
STARNET_HD inline ArgMax argMaxMerge(ArgMax a, ArgMax b)
{
    const bool takeB = b.value > a.value || (b.value == a.value && b.index < a.index);
    return takeB ? b : a;
}

//! Collapse state of one sample: the previous raw argmax (blanks included, so "a - a" decodes to "aa") and the
//! running sum of the kept maxima.
struct CollapseState
{
    int32_t previous;
    int32_t length;
    double sum;
};

STARNET_HD inline CollapseState collapseInit()
{
    return CollapseState{-1, 0, 0.0};
}

//! Feeds one time step; returns true when `best.index` is emitted (written at position state.length - 1).
STARNET_HD inline bool collapseStep(CollapseState& state, const ArgMax& best, int32_t blank)
{
    const bool keep = best.index != blank && best.index != state.previous;
    state.previous = best.index;
    if (keep)
    {
        ++state.length;
        state.sum += static_cast<double>(best.value);
    }
    return keep;
}

//! Mean of the kept maxima, 0 when nothing was kept (newer PaddleOCR; v2.0 returned NaN with a warning).
STARNET_HD inline float confidence(const CollapseState& state)
{
    return state.length > 0 ? static_cast<float>(state.sum / static_cast<double>(state.length)) : 0.f;
}

} // namespace ctc
} // namespace starnet
