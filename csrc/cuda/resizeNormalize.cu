// One thread per output pixel (all of its channels, so the taps are computed once); the math is the shared
// resizeNormalizeImpl.h, so the GPU output equals the CPU output bit for bit.
#include "cuda/resizeNormalize.h"

#include "core/resizeNormalizeImpl.h"

#include <cuda_fp16.h>

namespace starnet
{
namespace
{

constexpr int kBLOCK = 256;

__device__ inline void storeValue(float* p, int64_t i, float v)
{
    p[i] = v;
}

__device__ inline void storeValue(__half* p, int64_t i, float v)
{
    p[i] = __float2half_rn(v);
}

template <typename TOut>
__global__ void resizeNormalizeKernel(const uint8_t* __restrict__ images, const ImageDesc* __restrict__ descs,
    int32_t batch, TOut* __restrict__ out, int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb,
    int32_t* __restrict__ widths)
{
    const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t plane = static_cast<int64_t>(outH) * outW;
    if (idx >= plane * batch)
    {
        return;
    }
    const int32_t n = static_cast<int32_t>(idx / plane);
    const int32_t y = static_cast<int32_t>((idx % plane) / outW);
    const int32_t x = static_cast<int32_t>(idx % outW);
    const ImageDesc d = descs[n];
    const int32_t rw = resize::resizedWidth(d.height, d.width, outH, outW);
    if (x == 0 && y == 0)
    {
        widths[n] = rw;
    }
    TOut* dst = out + static_cast<int64_t>(n) * outChannels * plane + static_cast<int64_t>(y) * outW + x;
    if (x >= rw)
    {
        for (int32_t p = 0; p < outChannels; ++p)
        {
            storeValue(dst, p * plane, 0.f);
        }
        return;
    }
    const resize::LinearTap tx = resize::linearTap(x, resize::linearScale(d.width, rw), d.width, true);
    const resize::LinearTap ty = resize::linearTap(y, resize::linearScale(d.height, outH), d.height, false);
    const uint8_t* base = images + d.offset;
    uint8_t bgr[3];
    for (int32_t p = 0; p < 3; ++p)
    {
        const int32_t c = resize::sourceChannel(p, d.channels, inputIsRgb);
        bgr[p] = resize::resizedPixel(base, d.strideY, d.strideX, d.strideC, ty, tx, c);
    }
    if (outChannels == 3)
    {
        for (int32_t p = 0; p < 3; ++p)
        {
            storeValue(dst, p * plane, resize::normalize(static_cast<float>(bgr[p])));
        }
    }
    else
    {
        storeValue(dst, 0,
            d.channels == 1 ? resize::normalize(static_cast<float>(bgr[0]))
                            : resize::normalize(resize::grayFromBgr(bgr[0], bgr[1], bgr[2])));
    }
}

} // namespace

cudaError_t launchResizeNormalize(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut,
    bool outHalf, int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, int32_t* dWidths,
    cudaStream_t stream)
{
    if (batch <= 0 || outH <= 0 || outW <= 0 || (outChannels != 1 && outChannels != 3))
    {
        return cudaErrorInvalidValue;
    }
    const int64_t total = static_cast<int64_t>(batch) * outH * outW;
    const int64_t blocks = (total + kBLOCK - 1) / kBLOCK;
    if (blocks > 0x7fffffffLL)
    {
        return cudaErrorInvalidConfiguration;
    }
    if (outHalf)
    {
        resizeNormalizeKernel<<<static_cast<unsigned int>(blocks), kBLOCK, 0, stream>>>(dImages, dDescs, batch,
            static_cast<__half*>(dOut), outChannels, outH, outW, inputIsRgb, dWidths);
    }
    else
    {
        resizeNormalizeKernel<<<static_cast<unsigned int>(blocks), kBLOCK, 0, stream>>>(dImages, dDescs, batch,
            static_cast<float*>(dOut), outChannels, outH, outW, inputIsRgb, dWidths);
    }
    return cudaGetLastError();
}

} // namespace starnet
