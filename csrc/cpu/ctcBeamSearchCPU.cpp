#include "cpu/ctcBeamSearchCPU.h"

#include "core/half.h"
#include "cpu/parallelFor.h"

#include <algorithm>
#include <cmath>

namespace starnet
{
namespace
{

//! Prefixes live in a trie so extending one is an array lookup instead of a vector copy and a map keyed by vectors
//! (that version spent ~2 ms per 25-step sample allocating). Only nodes that become beams get a child table
//! (`classes` entries), so memory stays at O(steps * width * classes) per sample.
class PrefixTrie
{
public:
    explicit PrefixTrie(int32_t classes) : mClasses(classes)
    {
        mNodes.push_back(Node{-1, -1, -1});
    }

    static constexpr int32_t kROOT = 0;

    //! Child table of `node`, created on first use.
    int32_t* children(int32_t node)
    {
        int32_t table = mNodes[static_cast<size_t>(node)].table;
        if (table < 0)
        {
            table = static_cast<int32_t>(mTables.size() / static_cast<size_t>(mClasses));
            mTables.resize(mTables.size() + static_cast<size_t>(mClasses), -1);
            mNodes[static_cast<size_t>(node)].table = table;
        }
        return mTables.data() + static_cast<size_t>(table) * static_cast<size_t>(mClasses);
    }

    //! Child of `node` labelled `label`, created on first use.
    int32_t child(int32_t node, int32_t label)
    {
        int32_t id = children(node)[label];
        if (id < 0)
        {
            id = static_cast<int32_t>(mNodes.size());
            mNodes.push_back(Node{node, label, -1});
            children(node)[label] = id;
        }
        return id;
    }

    int32_t last(int32_t node) const
    {
        return mNodes[static_cast<size_t>(node)].label;
    }

    int32_t size() const
    {
        return static_cast<int32_t>(mNodes.size());
    }

    std::vector<int32_t> labels(int32_t node) const
    {
        std::vector<int32_t> out;
        for (; node != kROOT; node = mNodes[static_cast<size_t>(node)].parent)
        {
            out.push_back(mNodes[static_cast<size_t>(node)].label);
        }
        std::reverse(out.begin(), out.end());
        return out;
    }

private:
    struct Node
    {
        int32_t parent;
        int32_t label;
        int32_t table;
    };
    int32_t mClasses;
    std::vector<Node> mNodes;
    std::vector<int32_t> mTables;
};

//! Probabilities (rescaled every step, see decodeOne) of the prefix ending in a blank / in a non-blank; the split
//! is what tells "aa" (needs a blank in between) from "a".
struct Beam
{
    int32_t node;
    double blank;
    double nonBlank;

    double total() const
    {
        return blank + nonBlank;
    }
};

//! Candidate beams of one step, indexed by trie node without hashing: `slot[node]` is the candidate position.
class Candidates
{
public:
    Beam& at(int32_t node, int32_t trieSize)
    {
        if (static_cast<size_t>(trieSize) > mSlot.size())
        {
            mSlot.resize(static_cast<size_t>(trieSize) * 2, -1);
        }
        int32_t& slot = mSlot[static_cast<size_t>(node)];
        if (slot < 0)
        {
            slot = static_cast<int32_t>(mBeams.size());
            mBeams.push_back(Beam{node, 0.0, 0.0});
        }
        return mBeams[static_cast<size_t>(slot)];
    }

    //! Hands the candidates over and resets for the next step.
    std::vector<Beam> take()
    {
        for (const Beam& b : mBeams)
        {
            mSlot[static_cast<size_t>(b.node)] = -1;
        }
        std::vector<Beam> out;
        out.swap(mBeams);
        return out;
    }

private:
    std::vector<int32_t> mSlot;
    std::vector<Beam> mBeams;
};

//! Returns 0 on success, 1 for NaN, 2 for a negative score.
//! Works in probability space (products and sums, no log/exp per candidate) and divides every kept beam by the best
//! total after each step, accumulating log(scale): no underflow over long sequences, a fraction of the cost of
//! log-space sums. reference.ctc_prefix_beam_search does the same operations in the same order.
template <typename Load>
int decodeOne(const ScoresView& s, int64_t n, int32_t blank, int32_t width, BeamResult& result, Load load)
{
    PrefixTrie trie(static_cast<int32_t>(s.classes));
    Candidates candidates;
    std::vector<Beam> beams{Beam{PrefixTrie::kROOT, 1.0, 0.0}};
    std::vector<double> p(static_cast<size_t>(s.classes));
    double logScale = 0.0;
    const auto classes = static_cast<int32_t>(s.classes);
    for (int64_t t = 0; t < s.steps; ++t)
    {
        for (int32_t c = 0; c < classes; ++c)
        {
            const float v = load(n * s.strideN + t * s.strideT + c * s.strideC);
            if (std::isnan(v))
            {
                return 1;
            }
            if (v < 0.f)
            {
                return 2;
            }
            p[static_cast<size_t>(c)] = static_cast<double>(v);
        }
        for (const Beam& beam : beams)
        {
            const double total = beam.total();
            const int32_t last = beam.node == PrefixTrie::kROOT ? -1 : trie.last(beam.node);
            for (int32_t c = 0; c < classes; ++c)
            {
                const double pc = p[static_cast<size_t>(c)];
                if (c == blank)
                {
                    candidates.at(beam.node, trie.size()).blank += total * pc;
                    continue;
                }
                const int32_t extended = trie.child(beam.node, c);
                if (c == last)
                {
                    // A repeat only extends the prefix after a blank; without one it collapses into it.
                    candidates.at(extended, trie.size()).nonBlank += beam.blank * pc;
                    candidates.at(beam.node, trie.size()).nonBlank += beam.nonBlank * pc;
                }
                else
                {
                    candidates.at(extended, trie.size()).nonBlank += total * pc;
                }
            }
        }
        beams = candidates.take();
        const auto better = [&trie](const Beam& a, const Beam& b) {
            const double ta = a.total();
            const double tb = b.total();
            if (ta != tb)
            {
                return ta > tb;
            }
            return trie.labels(a.node) < trie.labels(b.node); // exact ties only: deterministic order
        };
        const size_t keep = std::min(beams.size(), static_cast<size_t>(width));
        std::partial_sort(beams.begin(), beams.begin() + static_cast<std::ptrdiff_t>(keep), beams.end(), better);
        beams.resize(keep);
        const double scale = beams.front().total();
        if (scale > 0.0)
        {
            for (Beam& b : beams)
            {
                b.blank /= scale;
                b.nonBlank /= scale;
            }
            logScale += std::log(scale);
        }
    }
    result.indices = trie.labels(beams.front().node);
    result.logProb = std::log(beams.front().total()) + logScale;
    return 0;
}

} // namespace

BeamStatus ctcBeamSearchCPU(
    const ScoresView& scores, int32_t blank, int32_t beamWidth, std::vector<BeamResult>& out, int32_t numThreads)
{
    out.assign(static_cast<size_t>(scores.batch), BeamResult{});
    std::vector<int> status(static_cast<size_t>(scores.batch), 0);
    const auto* f32 = static_cast<const float*>(scores.data);
    const auto* f16 = static_cast<const uint16_t*>(scores.data);
    parallelFor(scores.batch, numThreads, [&](int32_t, int64_t n) {
        BeamResult& r = out[static_cast<size_t>(n)];
        status[static_cast<size_t>(n)] = scores.isHalf ? decodeOne(scores, n, blank, beamWidth, r,
                                                             [f16](int64_t i) {
                                                                 return halfBitsToFloat(f16[i]);
                                                             })
                                                       : decodeOne(scores, n, blank, beamWidth, r, [f32](int64_t i) {
                                                             return f32[i];
                                                         });
    });
    // Scan afterwards, not inside the workers, so the reported sample is the first bad one whatever the timing.
    for (size_t i = 0; i < status.size(); ++i)
    {
        if (status[i] != 0)
        {
            return BeamStatus{static_cast<int64_t>(i), status[i] == 2};
        }
    }
    return BeamStatus{};
}

} // namespace starnet
