// Per-element math of resize_normalize, written once for the CPU loops and the CUDA kernel.
//
// The arithmetic reproduces cv2.resize(INTER_LINEAR) on uint8 bit for bit (checked against opencv-python 5.0 on
// x86-64): coefficients are quantised to 11 bits exactly like OpenCV (`saturate_cast<short>(w * 2048)` with
// round-half-even), the horizontal pass is exact integer math and the vertical pass uses the rounding of OpenCV's
// SIMD path (`v_mul_hi` on values pre-shifted by 4, then `(x + 2) >> 2`), which is what x86 builds execute.
// Being exact matters: the model was trained on cv2-resized images and the CPU path is the oracle for the GPU one.
#pragma once

#include "platform.h"
#include "resizeMode.h"

#include <cmath>
#include <cstdint>
#include <math.h>

namespace starnet
{
namespace resize
{

constexpr int kCOEF_BITS = 11;
constexpr int kCOEF_SCALE = 1 << kCOEF_BITS;

//! Two source indices and their fixed-point weights for one output coordinate.
struct LinearTap
{
    int32_t i0;
    int32_t i1;
    int32_t w0;
    int32_t w1;
};

//! PaddleOCR resize_norm_img: keep the aspect ratio at height outH, clip the width to outW, at least 1.
//! Same operation order as Python (`ratio = w / h; ceil(imgH * ratio)`) so the double rounding matches.
STARNET_HD inline int32_t resizedWidth(int32_t height, int32_t width, int32_t outH, int32_t outW)
{
    const double ratio = static_cast<double>(width) / static_cast<double>(height);
    const double wanted = ceil(static_cast<double>(outH) * ratio);
    int32_t w = wanted > static_cast<double>(outW) ? outW : static_cast<int32_t>(wanted);
    return w < 1 ? 1 : w;
}

//! Width the image takes in the output: the keep-ratio width, or the whole output width when stretching.
STARNET_HD inline int32_t fittedWidth(int32_t height, int32_t width, int32_t outH, int32_t outW, const ResizeMode& mode)
{
    return mode.stretch ? outW : resizedWidth(height, width, outH, outW);
}

//! OpenCV's source-to-destination scale: it stores `inv_scale = dst / src` and inverts it, which can differ
//! in the last bit from `src / dst`; keep its way.
STARNET_HD inline double linearScale(int32_t srcSize, int32_t dstSize)
{
    return 1.0 / (static_cast<double>(dstSize) / static_cast<double>(srcSize));
}

//! cvRound for the small values used here (|v| <= 2^22). On the host this avoids nearbyint/floorf library calls,
//! which cost more than the rest of the tap computation on SSE2-only builds.
STARNET_HD inline int32_t roundHalfEven(float v)
{
#if defined(__CUDA_ARCH__)
    return __float2int_rn(v);
#else
    // Adding and removing 1.5 * 2^23 rounds to an integer in the default round-half-even mode. Exact as long as
    // the compiler may not reassociate floats: never build this with -ffast-math.
    constexpr float kMAGIC = 12582912.f;
    return static_cast<int32_t>((v + kMAGIC) - kMAGIC);
#endif
}

//! floor() of a float that fits in int32.
STARNET_HD inline int32_t floorToInt(float v)
{
    const int32_t t = static_cast<int32_t>(v); // truncates toward zero
    return static_cast<float>(t) > v ? t - 1 : t;
}

//! Half-pixel-centre source position of output index `dst`, as OpenCV computes it (double, then float).
STARNET_HD inline float sourcePosition(int32_t dst, double scale)
{
#if defined(__CUDA_ARCH__)
    // Explicit rounding intrinsics: nvcc would otherwise contract into an FMA and move the result by one ulp.
    return static_cast<float>(__dadd_rn(__dmul_rn(static_cast<double>(dst) + 0.5, scale), -0.5));
#else
    return static_cast<float>((static_cast<double>(dst) + 0.5) * scale - 0.5);
#endif
}

//! Tap for one output coordinate. OpenCV clamps horizontally by zeroing the fraction at the borders
//! (`clampFraction`), but vertically it keeps the fraction and only clamps the row indices: both are needed
//! to match it at the top/bottom rows when upscaling.
STARNET_HD inline LinearTap linearTap(int32_t dst, double scale, int32_t srcSize, bool clampFraction)
{
    float f = sourcePosition(dst, scale);
    int32_t s = floorToInt(f);
    f -= static_cast<float>(s);
    if (clampFraction)
    {
        if (s < 0)
        {
            f = 0.f;
            s = 0;
        }
        if (s >= srcSize - 1)
        {
            f = 0.f;
            s = srcSize - 1;
        }
    }
    LinearTap tap;
    tap.i0 = s < 0 ? 0 : (s > srcSize - 1 ? srcSize - 1 : s);
    tap.i1 = s + 1 < 0 ? 0 : (s + 1 > srcSize - 1 ? srcSize - 1 : s + 1);
    tap.w0 = roundHalfEven((1.f - f) * static_cast<float>(kCOEF_SCALE));
    tap.w1 = roundHalfEven(f * static_cast<float>(kCOEF_SCALE));
    return tap;
}

//! Horizontal pass: exact, scaled by 2^11.
STARNET_HD inline int32_t horizontal(uint8_t p0, uint8_t p1, const LinearTap& tx)
{
    return static_cast<int32_t>(p0) * tx.w0 + static_cast<int32_t>(p1) * tx.w1;
}

//! Vertical-pass input: OpenCV packs the horizontal sums to int16 after `>> 4` (never saturates: the sum is at most
//! 255 * 2049). Storing rows in this form lets CPU loops use 16-bit SIMD multiplies (pmulhw), like OpenCV.
STARNET_HD inline int16_t verticalInput(int32_t h)
{
    return static_cast<int16_t>(h >> 4);
}

//! Vertical pass with OpenCV's SIMD rounding: mulhi(a, w0) + mulhi(b, w1), then (x + 2) >> 2, saturated to uint8.
STARNET_HD inline uint8_t verticalBlend(int16_t a, int16_t b, int16_t w0, int16_t w1)
{
    const int32_t hi0 = (static_cast<int32_t>(a) * w0) >> 16;
    const int32_t hi1 = (static_cast<int32_t>(b) * w1) >> 16;
    const int32_t v = (hi0 + hi1 + 2) >> 2;
    return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

STARNET_HD inline uint8_t vertical(int32_t h0, int32_t h1, const LinearTap& ty)
{
    return verticalBlend(
        verticalInput(h0), verticalInput(h1), static_cast<int16_t>(ty.w0), static_cast<int16_t>(ty.w1));
}

//! PaddleOCR normalisation in float32, same operation order as numpy: (v / 255 - 0.5) / 0.5.
STARNET_HD inline float normalize(float v)
{
    return (v / 255.f - 0.5f) / 0.5f;
}

//! Gray level for 1-channel outputs, ITU-R BT.601 weights (cv2.COLOR_BGR2GRAY), not rounded.
STARNET_HD inline float grayFromBgr(uint8_t b, uint8_t g, uint8_t r)
{
#if defined(__CUDA_ARCH__)
    // Separate roundings (no FMA contraction) so the GPU gray equals the CPU gray bit for bit.
    return __fadd_rn(__fadd_rn(__fmul_rn(0.114f, static_cast<float>(b)), __fmul_rn(0.587f, static_cast<float>(g))),
        __fmul_rn(0.299f, static_cast<float>(r)));
#else
    return 0.114f * static_cast<float>(b) + 0.587f * static_cast<float>(g) + 0.299f * static_cast<float>(r);
#endif
}

//! PIL's Image.convert("L") of one pixel (ITU-R 601-2 luma in 16-bit fixed point, rounded): what DTRB feeds its
//! gray models. Computed per source pixel, before the resize.
STARNET_HD inline uint8_t pilGray(uint8_t b, uint8_t g, uint8_t r)
{
    return static_cast<uint8_t>(
        (static_cast<uint32_t>(r) * 19595u + static_cast<uint32_t>(g) * 38470u + static_cast<uint32_t>(b) * 7471u
            + 0x8000u)
        >> 16);
}

//! Source channel that feeds output plane `plane` (planes are always B, G, R). Gray input feeds all three;
//! RGB(A) input is swapped; alpha is never read.
STARNET_HD inline int32_t sourceChannel(int32_t plane, int32_t channels, bool inputIsRgb)
{
    if (channels == 1)
    {
        return 0;
    }
    return inputIsRgb ? 2 - plane : plane;
}

//! Resized value of channel `c` at output (ty, tx) of one strided image: the whole bilinear step for one element.
STARNET_HD inline uint8_t resizedPixel(const uint8_t* data, int64_t strideY, int64_t strideX, int64_t strideC,
    const LinearTap& ty, const LinearTap& tx, int32_t c)
{
    const uint8_t* r0 = data + ty.i0 * strideY + c * strideC;
    const uint8_t* r1 = data + ty.i1 * strideY + c * strideC;
    const int32_t h0 = horizontal(r0[tx.i0 * strideX], r0[tx.i1 * strideX], tx);
    const int32_t h1 = horizontal(r1[tx.i0 * strideX], r1[tx.i1 * strideX], tx);
    return vertical(h0, h1, ty);
}

} // namespace resize
} // namespace starnet
