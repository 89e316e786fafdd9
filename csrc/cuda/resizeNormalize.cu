// One block per image: the block computes the image's resized width, its column and row taps (shared memory) and
// a 256-entry normalisation table once, then its threads stride over the output pixels (all channels of a pixel
// per thread, so the taps are read once). The math is the shared resizeNormalizeImpl.h, so the GPU output equals
// the CPU output bit for bit; doing the double-precision tap arithmetic once per column/row instead of once per
// pixel is what makes the kernel memory- rather than instruction-bound.
#include "cuda/resizeNormalize.h"

#include "cuda/pilResize.h"

#include "core/resizeNormalizeImpl.h"

#include "cuda/deviceValue.cuh"

#include <cuda_fp16.h>

namespace starnet
{
namespace
{

using device::loadValue;
using device::storeValue;

constexpr int kBLOCK = 512; // one block per image, ~6 output pixels per thread at 32x100, two blocks per SM
constexpr int kMAX_TAP_BYTES = 40 * 1024; // (outH + outW) taps in dynamic shared memory

//! A column or row tap with its source offsets in bytes (image stride applied), so the pixel loop only adds.
struct OffsetTap
{
    int32_t o0;
    int32_t o1;
    int32_t w0;
    int32_t w1;
};

__device__ inline OffsetTap offsetTap(const resize::LinearTap& t, int64_t stride)
{
    return OffsetTap{static_cast<int32_t>(t.i0 * stride), static_cast<int32_t>(t.i1 * stride), t.w0, t.w1};
}

template <typename TOut>
__global__ void __launch_bounds__(kBLOCK, 2) resizeNormalizeKernel(const uint8_t* __restrict__ images,
    const ImageDesc* __restrict__ descs, int32_t batch, TOut* __restrict__ out, int32_t outChannels, int32_t outH,
    int32_t outW, bool inputIsRgb, int32_t* __restrict__ widths, ResizeMode mode)
{
    extern __shared__ OffsetTap taps[]; // outW column taps, then outH row taps
    __shared__ float table[256];
    __shared__ double scales[2];
    __shared__ int32_t resizedWidth;
    const int32_t n = static_cast<int32_t>(blockIdx.x);
    const ImageDesc d = descs[n];
    if (threadIdx.x == 0)
    {
        // The image's double-precision constants once per block (three divisions), not once per thread.
        const int32_t w = resize::fittedWidth(d.height, d.width, outH, outW, mode);
        resizedWidth = w;
        scales[0] = resize::linearScale(d.width, w);
        scales[1] = resize::linearScale(d.height, outH);
        widths[n] = w;
    }
    if (threadIdx.x < 256)
    {
        table[threadIdx.x] = resize::normalize(static_cast<float>(threadIdx.x));
    }
    __syncthreads();
    const int32_t rw = resizedWidth;
    const double scaleX = scales[0];
    const double scaleY = scales[1];
    OffsetTap* tx = taps;
    OffsetTap* ty = taps + outW;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < rw; i += kBLOCK)
    {
        tx[i] = offsetTap(resize::linearTap(i, scaleX, d.width, true), d.strideX);
    }
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < outH; i += kBLOCK)
    {
        ty[i] = offsetTap(resize::linearTap(i, scaleY, d.height, false), d.strideY);
    }
    __syncthreads();
    const int32_t plane = outH * outW;
    TOut* dst = out + static_cast<int64_t>(n) * outChannels * plane;
    const uint8_t* base = images + d.offset;
    int32_t source[3];
    for (int32_t p = 0; p < 3; ++p)
    {
        source[p] = static_cast<int32_t>(resize::sourceChannel(p, d.channels, inputIsRgb) * d.strideC);
    }
    // DTRB's gray models: PIL's convert("L") of every source pixel the taps read, then the resize.
    const bool grayFirst = outChannels == 1 && mode.grayBeforeResize && d.channels != 1;
    // (y, x) of pixel i, advanced incrementally by the block stride (no division in the loop).
    int32_t y = static_cast<int32_t>(threadIdx.x) / outW;
    int32_t x = static_cast<int32_t>(threadIdx.x) - y * outW;
    const int32_t stepY = kBLOCK / outW;
    const int32_t stepX = kBLOCK - stepY * outW;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < plane; i += kBLOCK)
    {
        if (x >= rw)
        {
            for (int32_t p = 0; p < outChannels; ++p)
            {
                storeValue(dst, static_cast<int64_t>(p) * plane + i, 0.f);
            }
        }
        else
        {
            const OffsetTap cx = tx[x];
            const OffsetTap cy = ty[y];
            const resize::LinearTap wx{0, 0, cx.w0, cx.w1};
            const resize::LinearTap wy{0, 0, cy.w0, cy.w1};
            if (grayFirst)
            {
                const uint8_t* r0 = base + cy.o0;
                const uint8_t* r1 = base + cy.o1;
                const auto gray = [&](const uint8_t* px) {
                    return resize::pilGray(__ldg(px + source[0]), __ldg(px + source[1]), __ldg(px + source[2]));
                };
                const int32_t h0 = resize::horizontal(gray(r0 + cx.o0), gray(r0 + cx.o1), wx);
                const int32_t h1 = resize::horizontal(gray(r1 + cx.o0), gray(r1 + cx.o1), wx);
                storeValue(dst, i, table[resize::vertical(h0, h1, wy)]);
            }
            else
            {
                uint8_t bgr[3];
#pragma unroll
                for (int32_t p = 0; p < 3; ++p)
                {
                    const uint8_t* r0 = base + cy.o0 + source[p];
                    const uint8_t* r1 = base + cy.o1 + source[p];
                    const int32_t h0 = resize::horizontal(__ldg(r0 + cx.o0), __ldg(r0 + cx.o1), wx);
                    const int32_t h1 = resize::horizontal(__ldg(r1 + cx.o0), __ldg(r1 + cx.o1), wx);
                    bgr[p] = resize::vertical(h0, h1, wy);
                }
                if (outChannels == 3)
                {
#pragma unroll
                    for (int32_t p = 0; p < 3; ++p)
                    {
                        storeValue(dst, static_cast<int64_t>(p) * plane + i, table[bgr[p]]);
                    }
                }
                else
                {
                    storeValue(dst, i,
                        d.channels == 1 ? table[bgr[0]]
                                        : resize::normalize(resize::grayFromBgr(bgr[0], bgr[1], bgr[2])));
                }
            }
        }
        x += stepX;
        y += stepY;
        if (x >= outW)
        {
            x -= outW;
            ++y;
        }
    }
}

} // namespace

cudaError_t launchResizeNormalize(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut,
    bool outHalf, int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, int32_t* dWidths,
    cudaStream_t stream, ResizeMode mode)
{
    if (mode.pilBicubic)
    {
        return launchPilResizeNormalize(
            dImages, dDescs, batch, dOut, outHalf, outChannels, outH, outW, inputIsRgb, dWidths, stream, mode);
    }
    if (batch <= 0 || outH <= 0 || outW <= 0 || (outChannels != 1 && outChannels != 3)
        || (mode.grayBeforeResize && outChannels != 1))
    {
        return cudaErrorInvalidValue;
    }
    const size_t tapBytes = (static_cast<size_t>(outH) + static_cast<size_t>(outW)) * sizeof(OffsetTap);
    if (tapBytes > static_cast<size_t>(kMAX_TAP_BYTES) || static_cast<int64_t>(outH) * outW > INT32_MAX)
    {
        return cudaErrorInvalidValue; // an output over ~2500 pixels wide: not a text-line model input
    }
    const unsigned blocks = static_cast<unsigned>(batch);
    if (outHalf)
    {
        resizeNormalizeKernel<<<blocks, kBLOCK, tapBytes, stream>>>(dImages, dDescs, batch,
            static_cast<__half*>(dOut), outChannels, outH, outW, inputIsRgb, dWidths, mode);
    }
    else
    {
        resizeNormalizeKernel<<<blocks, kBLOCK, tapBytes, stream>>>(dImages, dDescs, batch,
            static_cast<float*>(dOut), outChannels, outH, outW, inputIsRgb, dWidths, mode);
    }
    return cudaGetLastError();
}

} // namespace starnet
