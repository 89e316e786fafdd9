// One block per image: the block computes the source window of every output column and
// row once (shared memory) and, when they fit, their quantised coefficients; each thread then produces whole
// output pixels (both PIL passes for that pixel, in Pillow's order: the first-pass sums its second-pass window
// reads, each clipped to uint8 as Pillow's intermediate image is, then the second-pass sum). The math is
// pilResampleImpl.h, shared with the CPU loop, so both give Pillow's bytes.
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
constexpr int kMAX_WINDOWS = 700; // output columns + rows (28 KB of windows: under 48 KB in all)

struct WindowEntry
{
    pil::Window w;
    int32_t start;
};

template <typename TOut>
__global__ void __launch_bounds__(kBLOCK) pilResizeKernel(const uint8_t* __restrict__ images,
    const ImageDesc* __restrict__ descs, TOut* __restrict__ out, int32_t outChannels, int32_t outH, int32_t outW,
    bool inputIsRgb, int32_t* __restrict__ widths, ResizeMode mode)
{
    extern __shared__ WindowEntry windows[]; // outW columns, then outH rows
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
    for (int32_t i = tid; i < plane; i += kBLOCK)
    {
        const int32_t y = i / outW;
        const int32_t x = i - y * outW;
        if (x >= rw)
        {
            for (int32_t p = 0; p < outChannels; ++p)
            {
                storeValue(dst, static_cast<int64_t>(p) * plane + i, 0.f);
            }
            continue;
        }
        // Pillow's intermediate image is uint8: the first pass (along `inner`) is clipped before the second pass
        // (along `outer`) weighs it. Horizontal first: inner = columns, outer = rows; vertical first: the reverse.
        const WindowEntry outer = vFirst ? wx[x] : wy[y];
        const WindowEntry inner = vFirst ? wy[y] : wx[x];
        int32_t acc[3] = {pil::kROUND, pil::kROUND, pil::kROUND};
        for (int32_t j = 0; j < outer.w.count; ++j)
        {
            const int32_t o = outer.w.first + j;
            int32_t h[3] = {pil::kROUND, pil::kROUND, pil::kROUND};
            for (int32_t k = 0; k < inner.w.count; ++k)
            {
                const int32_t c = useCache ? coef[inner.start + k] : pil::coefficient(inner.w, k);
                const int32_t row = vFirst ? inner.w.first + k : o;
                const int32_t column = vFirst ? o : inner.w.first + k;
                const uint8_t* px
                    = base + static_cast<int64_t>(row) * d.strideY + static_cast<int64_t>(column) * d.strideX;
                if (grayFirst)
                {
                    h[0] += resize::pilGray(__ldg(px + channel[0]), __ldg(px + channel[1]), __ldg(px + channel[2]))
                        * c;
                    continue;
                }
                for (int32_t p = 0; p < planes; ++p)
                {
                    h[p] += __ldg(px + channel[p]) * c;
                }
            }
            const int32_t c = useCache ? coef[outer.start + j] : pil::coefficient(outer.w, j);
            for (int32_t p = 0; p < planes; ++p)
            {
                acc[p] += pil::clip8(h[p]) * c;
            }
        }
        uint8_t v[3];
        for (int32_t p = 0; p < 3; ++p)
        {
            v[p] = pil::clip8(acc[p < planes ? p : 0]);
        }
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
    const unsigned blocks = static_cast<unsigned>(batch);
    if (outHalf)
    {
        pilResizeKernel<<<blocks, kBLOCK, windowBytes, stream>>>(
            dImages, dDescs, static_cast<__half*>(dOut), outChannels, outH, outW, inputIsRgb, dWidths, mode);
    }
    else
    {
        pilResizeKernel<<<blocks, kBLOCK, windowBytes, stream>>>(
            dImages, dDescs, static_cast<float*>(dOut), outChannels, outH, outW, inputIsRgb, dWidths, mode);
    }
    return cudaGetLastError();
}

} // namespace starnet
