// One block per image: the block computes the source window of every output column and row once (shared memory)
// and, when they fit, their quantised coefficients. Then it resizes in Pillow's two passes, separably: for a band of
// second-pass outputs, its threads first compute the first-pass values the band reads (each clipped to uint8 as
// Pillow's intermediate image is) into shared memory, then the second-pass sums from there. Each first-pass value is
// computed once per band instead of once per output pixel that reads it: per output pixel that is about
// (inner window + outer window) operations instead of their product (4 x 9 taps, three loads each for gray-first,
// for a 64x400 crop to 32x100). A band whose first-pass values alone overflow the staging memory (a source over
// ~90x taller than the output, or ~8000 pixels wide when vertical-first) falls back to the direct per-pixel form.
// The math is pilResampleImpl.h, shared with the CPU loop, so both give Pillow's bytes.
#include "cuda/pilResize.h"

#include "core/pilResampleImpl.h"
#include "core/resizeNormalizeImpl.h"

#include "cuda/deviceValue.cuh"

#include <cuda_fp16.h>

namespace starnet
{
namespace
{

using device::storeValue;

constexpr int kBLOCK = 256;
constexpr int kCOEF_CACHE = 4096; // int32 coefficients per image in shared memory (16 KB); beyond, recomputed
constexpr int kMAX_WINDOWS = 700; // output columns + rows (28 KB of windows)
//! Dynamic shared memory (windows, then the staging of first-pass values): what 48 KB leaves beside the 16.5 KB of
//! static shared memory. The staging gets the rest: 26 KB at 32x100, at least 3.6 KB at the largest output.
constexpr int kDYNAMIC_BYTES = 31 * 1024;

struct WindowEntry
{
    pil::Window w;
    int32_t start;
};
static_assert(kMAX_WINDOWS * sizeof(WindowEntry) + 2048 <= kDYNAMIC_BYTES, "the largest output keeps some staging");

//! 3 blocks per SM: what ~47 KB of shared memory per block allows on sm_87 (164 KB per SM); caps registers at 85
//! (80 used; 4 bytes spilled on sm_90, none on sm_75/87; without the bound sm_87 chose 64 and spilled). A bound of
//! 2 blocks removes that spill but takes 96 registers, one resident block less per SM.
template <typename TOut>
__global__ void __launch_bounds__(kBLOCK, 3) pilResizeKernel(const uint8_t* __restrict__ images,
    const ImageDesc* __restrict__ descs, TOut* __restrict__ out, int32_t outChannels, int32_t outH, int32_t outW,
    bool inputIsRgb, int32_t* __restrict__ widths, ResizeMode mode, int32_t stageBytes)
{
    extern __shared__ WindowEntry windows[]; // outW columns, then outH rows, then the staging (stageBytes)
    __shared__ int32_t coef[kCOEF_CACHE];
    __shared__ pil::Axis axes[2];
    __shared__ int32_t resizedWidth;
    __shared__ bool cached;
    const int32_t n = static_cast<int32_t>(blockIdx.x);
    const ImageDesc d = descs[n];
    const int32_t tid = static_cast<int32_t>(threadIdx.x);
    if (tid == 0)
    {
        const int32_t w = resize::fittedWidth(d.height, d.width, outH, outW, mode);
        resizedWidth = w;
        widths[n] = w;
        axes[0] = pil::axis(d.width, w);
        axes[1] = pil::axis(d.height, outH);
    }
    __syncthreads();
    const int32_t rw = resizedWidth;
    WindowEntry* wx = windows;
    WindowEntry* wy = windows + outW;
    for (int32_t i = tid; i < rw; i += kBLOCK)
    {
        wx[i].w = pil::window(axes[0], i);
    }
    for (int32_t i = tid; i < outH; i += kBLOCK)
    {
        wy[i].w = pil::window(axes[1], i);
    }
    __syncthreads();
    if (tid == 0)
    {
        int32_t total = 0;
        for (int32_t i = 0; i < rw; ++i)
        {
            wx[i].start = total;
            total += wx[i].w.count;
        }
        for (int32_t i = 0; i < outH; ++i)
        {
            wy[i].start = total;
            total += wy[i].w.count;
        }
        cached = total <= kCOEF_CACHE;
    }
    __syncthreads();
    const bool useCache = cached;
    if (useCache)
    {
        for (int32_t i = tid; i < rw + outH; i += kBLOCK)
        {
            const WindowEntry& e = windows[i < rw ? i : outW + (i - rw)];
            for (int32_t j = 0; j < e.w.count; ++j)
            {
                coef[e.start + j] = pil::coefficient(e.w, j);
            }
        }
    }
    __syncthreads();

    const bool grayFirst = outChannels == 1 && mode.grayBeforeResize && d.channels != 1;
    const bool vFirst = pil::verticalFirst(d.width, d.height, rw, outH);
    const int32_t planes = (d.channels == 1 || grayFirst) ? 1 : 3;
    int64_t channel[3];
    for (int32_t p = 0; p < 3; ++p)
    {
        channel[p] = resize::sourceChannel(p, d.channels, inputIsRgb) * d.strideC;
    }
    const int32_t plane = outH * outW;
    TOut* dst = out + static_cast<int64_t>(n) * outChannels * plane;
    const uint8_t* base = images + d.offset;
    // Source level of plane p at (row, column): PIL's gray of the pixel, or one of its channels.
    const auto level = [&](int32_t row, int32_t column, int32_t p) -> int32_t {
        const uint8_t* px = base + static_cast<int64_t>(row) * d.strideY + static_cast<int64_t>(column) * d.strideX;
        return grayFirst ? resize::pilGray(__ldg(px + channel[0]), __ldg(px + channel[1]), __ldg(px + channel[2]))
                         : __ldg(px + channel[p]);
    };
    const auto coefficient = [&](const WindowEntry& e, int32_t j) {
        return useCache ? coef[e.start + j] : pil::coefficient(e.w, j);
    };
    const auto store = [&](int32_t y, int32_t x, const int32_t (&acc)[3]) {
        uint8_t v[3];
        for (int32_t p = 0; p < 3; ++p)
        {
            v[p] = pil::clip8(acc[p < planes ? p : 0]);
        }
        const int32_t i = y * outW + x;
        if (outChannels == 3)
        {
            for (int32_t p = 0; p < 3; ++p)
            {
                storeValue(dst, static_cast<int64_t>(p) * plane + i, resize::normalize(static_cast<float>(v[p])));
            }
        }
        else
        {
            storeValue(dst, i,
                planes == 1 ? resize::normalize(static_cast<float>(v[0]))
                            : resize::normalize(resize::grayFromBgr(v[0], v[1], v[2])));
        }
    };
    // Keep-ratio padding: the columns right of the resized width are 0.
    for (int32_t e = tid; e < outH * (outW - rw); e += kBLOCK)
    {
        const int32_t y = e / (outW - rw);
        const int32_t i = y * outW + rw + (e - y * (outW - rw));
        for (int32_t p = 0; p < outChannels; ++p)
        {
            storeValue(dst, static_cast<int64_t>(p) * plane + i, 0.f);
        }
    }
    // Pillow's intermediate image is uint8: the first pass (along `inner`) is clipped before the second pass (along
    // `outer`) weighs it. Horizontal first: inner = the rw columns, outer = the outH rows; vertical first: the
    // reverse. Staged first-pass value (s, i): source index s along the outer axis, first-pass output i.
    uint8_t* stage = reinterpret_cast<uint8_t*>(windows + outW + outH);
    // First-pass sums (not yet clipped) of output i's window at source index s along the outer axis.
    const auto firstPass = [&](const WindowEntry& inner, int32_t s, int32_t (&h)[3]) {
        h[0] = h[1] = h[2] = pil::kROUND;
        for (int32_t k = 0; k < inner.w.count; ++k)
        {
            const int32_t c = coefficient(inner, k);
            const int32_t t = inner.w.first + k;
            for (int32_t p = 0; p < planes; ++p)
            {
                h[p] += (vFirst ? level(t, s, p) : level(s, t, p)) * c;
            }
        }
    };
    const WindowEntry* innerWin = vFirst ? wy : wx;
    const WindowEntry* outerWin = vFirst ? wx : wy;
    const int32_t innerCount = vFirst ? outH : rw;
    const int32_t outerCount = vFirst ? rw : outH;
    const int32_t stride = innerCount * planes; // bytes per staged source index
    for (int32_t o0 = 0; o0 < outerCount;)
    {
        // The band [o0, o1): as many outer outputs as the staging holds (windows advance monotonically).
        const int32_t lo = outerWin[o0].w.first;
        int32_t o1 = o0 + 1;
        while (o1 < outerCount
               && static_cast<int64_t>(outerWin[o1].w.first + outerWin[o1].w.count - lo) * stride <= stageBytes)
        {
            ++o1;
        }
        const int32_t hi = outerWin[o1 - 1].w.first + outerWin[o1 - 1].w.count;
        if (static_cast<int64_t>(hi - lo) * stride <= stageBytes)
        {
            for (int32_t e = tid; e < (hi - lo) * innerCount; e += kBLOCK)
            {
                const int32_t s = lo + e / innerCount;
                const int32_t i = e - (s - lo) * innerCount;
                int32_t h[3];
                firstPass(innerWin[i], s, h);
                for (int32_t p = 0; p < planes; ++p)
                {
                    stage[e * planes + p] = pil::clip8(h[p]);
                }
            }
            __syncthreads();
            for (int32_t e = tid; e < (o1 - o0) * innerCount; e += kBLOCK)
            {
                const int32_t o = o0 + e / innerCount;
                const int32_t i = e - (o - o0) * innerCount;
                const WindowEntry outer = outerWin[o];
                int32_t acc[3] = {pil::kROUND, pil::kROUND, pil::kROUND};
                for (int32_t j = 0; j < outer.w.count; ++j)
                {
                    const int32_t c = coefficient(outer, j);
                    const uint8_t* v = stage + (outer.w.first + j - lo) * stride + i * planes;
                    for (int32_t p = 0; p < planes; ++p)
                    {
                        acc[p] += v[p] * c;
                    }
                }
                store(vFirst ? i : o, vFirst ? o : i, acc);
            }
            __syncthreads(); // the next band overwrites the staging
        }
        else
        {
            // One outer output whose first-pass values overflow the staging: direct, both passes per pixel.
            for (int32_t i = tid; i < innerCount; i += kBLOCK)
            {
                const WindowEntry outer = outerWin[o0];
                const WindowEntry inner = innerWin[i];
                int32_t acc[3] = {pil::kROUND, pil::kROUND, pil::kROUND};
                for (int32_t j = 0; j < outer.w.count; ++j)
                {
                    int32_t h[3];
                    firstPass(inner, outer.w.first + j, h);
                    const int32_t c = coefficient(outer, j);
                    for (int32_t p = 0; p < planes; ++p)
                    {
                        acc[p] += pil::clip8(h[p]) * c;
                    }
                }
                store(vFirst ? i : o0, vFirst ? o0 : i, acc);
            }
        }
        o0 = o1;
    }
}

} // namespace

cudaError_t launchPilResizeNormalize(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut,
    bool outHalf, int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, int32_t* dWidths,
    cudaStream_t stream, ResizeMode mode)
{
    if (batch <= 0 || outH <= 0 || outW <= 0 || (outChannels != 1 && outChannels != 3)
        || (mode.grayBeforeResize && outChannels != 1) || outH + outW > kMAX_WINDOWS)
    {
        return cudaErrorInvalidValue;
    }
    const size_t windowBytes = (static_cast<size_t>(outH) + static_cast<size_t>(outW)) * sizeof(WindowEntry);
    const int32_t stageBytes = kDYNAMIC_BYTES - static_cast<int32_t>(windowBytes);
    const unsigned blocks = static_cast<unsigned>(batch);
    if (outHalf)
    {
        pilResizeKernel<<<blocks, kBLOCK, kDYNAMIC_BYTES, stream>>>(dImages, dDescs, static_cast<__half*>(dOut),
            outChannels, outH, outW, inputIsRgb, dWidths, mode, stageBytes);
    }
    else
    {
        pilResizeKernel<<<blocks, kBLOCK, kDYNAMIC_BYTES, stream>>>(
            dImages, dDescs, static_cast<float*>(dOut), outChannels, outH, outW, inputIsRgb, dWidths, mode, stageBytes);
    }
    return cudaGetLastError();
}

} // namespace starnet
