// CPU prefix beam search for CTC (Hannun et al. 2014) on per-step probabilities. CPU only: beam search is branchy,
// allocation-heavy work that the GPU greedy path deliberately avoids.
#pragma once

#include "cpu/ctcGreedyDecodeCPU.h"

#include <cstdint>
#include <vector>

namespace starnet
{

//! Best beam of one sample: collapsed class ids (blank removed) and the natural-log probability of the prefix
//! (summed over all alignments that collapse to it).
struct BeamResult
{
    std::vector<int32_t> indices;
    double logProb{0.0};
};

//! Status of a batch decode: -1 when fine, else the first sample index holding a NaN or a negative score.
struct BeamStatus
{
    int64_t badSample{-1};
    bool negative{false};
};

//! Decodes every sample of `scores` (probabilities, not logits) keeping `beamWidth` prefixes per step. Ties in the
//! pruning order are broken by the lexicographically smaller prefix, so results are deterministic. Does not throw
//! for bad values (reported in the status); may run without the GIL.
BeamStatus ctcBeamSearchCPU(
    const ScoresView& scores, int32_t blank, int32_t beamWidth, std::vector<BeamResult>& out, int32_t numThreads);

} // namespace starnet
