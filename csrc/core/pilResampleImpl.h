// Per-element math of PIL's Image.resize(..., BICUBIC) on 8-bit images, written once for the CPU loops and the CUDA
// kernel: what DTRB's ResizeNormalize feeds its models.
//
// Pillow (libImaging/Resample.c) resizes in two passes, horizontal then vertical, each a convolution with a bicubic
// kernel (a = -0.5) whose support is widened by the scale factor when shrinking (antialiasing). The coefficients of
// one output index are computed in double, normalised to sum 1 and quantised to 22 fractional bits; each pass
// accumulates in int32 from a rounding offset and clips to uint8, so the intermediate image is uint8 too.
// Reproducing that order of operations gives Pillow's output bit for bit (checked against Pillow 13 on x86-64).
// Pass order: Pillow <= 12 always runs the horizontal pass first; Pillow 13 runs the vertical pass first when the
// height shrinks by more than twice as many pixels as the width (verticalFirst). We follow Pillow 13; the two orders
// differ by a few levels at most, on some image sizes only.
// On the device every double operation is an explicitly rounded intrinsic, so nvcc cannot contract it into an FMA
// that Pillow's x86-64 build does not execute.
#pragma once

#include "exactMath.h"
#include "platform.h"

#include <cmath>
#include <cstdint>
#include <math.h>

namespace starnet
{
namespace pil
{

constexpr int kPRECISION_BITS = 32 - 8 - 2;
constexpr double kBICUBIC_SUPPORT = 2.0;

using exact::add;
using exact::mul;

//! Pillow's bicubic_filter (a = -0.5), same operation order.
STARNET_HD inline double bicubic(double x)
{
    constexpr double a = -0.5;
    if (x < 0.0)
    {
        x = -x;
    }
    if (x < 1.0)
    {
        return add(mul(mul(add(mul(a + 2.0, x), -(a + 3.0)), x), x), 1.0);
    }
    if (x < 2.0)
    {
        return mul(add(mul(add(mul(add(x, -5.0), x), 8.0), x), -4.0), a);
    }
    return 0.0;
}

//! One axis of a resize from `inSize` to `outSize` pixels (Pillow's precompute_coeffs preamble).
struct Axis
{
    double scale;
    double filterScale;
    double support;
    int32_t inSize;
};

STARNET_HD inline Axis axis(int32_t inSize, int32_t outSize)
{
    Axis a;
    a.scale = static_cast<double>(inSize) / static_cast<double>(outSize);
    a.filterScale = a.scale < 1.0 ? 1.0 : a.scale;
    a.support = mul(kBICUBIC_SUPPORT, a.filterScale);
    a.inSize = inSize;
    return a;
}

//! The source window of one output index: `count` source pixels from `first`, and what the coefficients need.
struct Window
{
    int32_t first;
    int32_t count;
    double center;
    double invFilterScale;
    double sum; //!< sum of the unnormalised weights (Pillow's `ww`)
};

STARNET_HD inline double weight(const Window& w, int32_t j)
{
    // Pillow: filter((x + xmin - center + 0.5) * ss), with the int sum first.
    return bicubic(mul(add(add(static_cast<double>(j + w.first), -w.center), 0.5), w.invFilterScale));
}

STARNET_HD inline Window window(const Axis& a, int32_t dst)
{
    Window w;
    w.center = mul(static_cast<double>(dst) + 0.5, a.scale);
    w.invFilterScale = 1.0 / a.filterScale;
    int32_t lo = static_cast<int32_t>(add(add(w.center, -a.support), 0.5)); // truncation, as Pillow's (int) cast
    if (lo < 0)
    {
        lo = 0;
    }
    int32_t hi = static_cast<int32_t>(add(add(w.center, a.support), 0.5));
    if (hi > a.inSize)
    {
        hi = a.inSize;
    }
    w.first = lo;
    w.count = hi - lo;
    w.sum = 0.0;
    for (int32_t j = 0; j < w.count; ++j)
    {
        w.sum = add(w.sum, weight(w, j));
    }
    return w;
}

//! Coefficient j of a window, normalised and quantised like Pillow's normalize_coeffs_8bpc.
STARNET_HD inline int32_t coefficient(const Window& w, int32_t j)
{
    double k = weight(w, j);
    if (w.sum != 0.0)
    {
        k = k / w.sum;
    }
    const double scaled = mul(k, static_cast<double>(1 << kPRECISION_BITS));
    return static_cast<int32_t>(k < 0.0 ? add(-0.5, scaled) : add(0.5, scaled));
}

//! Pillow's clip8: the accumulated sum (rounding offset included) back to uint8.
STARNET_HD inline uint8_t clip8(int32_t acc)
{
    const int32_t v = acc >> kPRECISION_BITS; // arithmetic shift, as Pillow's lookup index
    return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

constexpr int32_t kROUND = 1 << (kPRECISION_BITS - 1);

//! Pillow 13's pass order (ImagingResampleInner): vertical first when the height loses more than twice as many
//! pixels as the width.
STARNET_HD inline bool verticalFirst(int32_t inWidth, int32_t inHeight, int32_t outWidth, int32_t outHeight)
{
    const int32_t dy = inHeight - outHeight;
    return dy > 0 && dy > (inWidth - outWidth) * 2;
}

} // namespace pil
} // namespace starnet
