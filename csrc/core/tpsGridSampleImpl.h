// Per-pixel math of the fused STAR-Net TPS grid sampler, shared by the CPU twin and the CUDA kernel.
//
// PaddleOCR's TPS (RARE/STAR-Net) builds the sampling grid as P' = P_hat @ inv(delta_C)[:, :F] @ C', where
// P_hat = [1, x, y, r_1^2 log(r_1 + eps), ..., r_F^2 log(r_F + eps)] for each output pixel centre (x, y) and the
// base fiducials c_k, and C' are the F predicted fiducials. The exported ONNX graph stores A = P_hat @ inv(...)
// as a float32 constant [H*W, F] and computes grid = A @ C' in float32. Here one output pixel evaluates its own
// row of A on the fly (radial basis in double, as the reference computes A in float64), rounds it to float like
// the reference constant, and then every sample's grid point is a float32 dot product with that sample's
// fiducials, followed by ONNX GridSample's bilinear interpolation. No grid tensor exists anywhere.
//
// Why double for the row: the row is a sum of ~23 terms of magnitude up to ~50 that cancel to O(1); float32
// inputs alone give a grid error of ~2e-5 (1e-3 pixel), double gives the reference's own ~2e-7.
#pragma once

#include "exactMath.h"
#include "platform.h"

#include <cstdint>
#include <math.h>

namespace starnet
{
namespace tps
{

constexpr int32_t kMIN_FIDUCIALS = 4;
constexpr int32_t kMAX_FIDUCIALS = 32;
constexpr double kRBF_EPS = 1e-6; // Paddle's GridGenerator: r^2 * log(r + 1e-6)

enum class Padding : int32_t
{
    kZEROS = 0,
    kBORDER = 1,
};

//! Number of doubles of the inverse-delta block (rows 0..F+2 of inv(delta_C), columns 0..F-1).
STARNET_HD inline int32_t inverseDeltaSize(int32_t numFiducials)
{
    return (numFiducials + 3) * numFiducials;
}

//! The inverse-delta block by value (8960 bytes): the CUDA kernel takes it as a __grid_constant__ parameter, so a
//! launch needs no device allocation or copy and is capturable in a CUDA graph.
struct InverseDelta
{
    double values[(kMAX_FIDUCIALS + 3) * kMAX_FIDUCIALS];
};

// The rows are double sums rounded to float, built with exact::mul/add: an FMA that nvcc fused and the host did not
// made a row round to the neighbouring float now and then, and the sampling multiplies a grid point's last bit by up
// to ~width / 2 times the image's gradient (2.3e-5 at 63x317 -> 44x274 on random images, seen on an H200, against
// 1e-5 allowed).
using exact::add;
using exact::mul;

//! Base fiducial k (F/2 evenly spaced on y = -1, then F/2 on y = +1), as numpy.linspace computes x.
STARNET_HD inline void baseFiducial(int32_t k, int32_t numFiducials, double& x, double& y)
{
    const int32_t half = numFiducials / 2;
    const int32_t i = k % half;
    const double step = 2.0 / static_cast<double>(half - 1);
    x = i == half - 1 ? 1.0 : add(-1.0, mul(static_cast<double>(i), step));
    y = k < half ? -1.0 : 1.0;
}

//! Pixel-centre coordinate of output index i of `size` in [-1, 1]: (2i - size + 1) / size.
STARNET_HD inline double outputCoordinate(int32_t i, int32_t size)
{
    return static_cast<double>(2 * i - size + 1) / static_cast<double>(size);
}

//! TPS radial basis U(r) = r^2 log(r + eps) between points (ax, ay) and (bx, by).
STARNET_HD inline double radialBasis(double ax, double ay, double bx, double by)
{
    const double dx = ax - bx;
    const double dy = ay - by;
    const double r2 = add(mul(dx, dx), mul(dy, dy));
    return r2 * log(sqrt(r2) + kRBF_EPS);
}

//! U(|p - c_k|) for the output point p = (x, y) and base fiducial k.
STARNET_HD inline double basisTerm(int32_t k, int32_t numFiducials, double x, double y)
{
    double cx;
    double cy;
    baseFiducial(k, numFiducials, cx, cy);
    return radialBasis(x, y, cx, cy);
}

//! Entry f of the row of A for the output point (x, y), from its F basis terms (`basis[k * basisStride]`):
//! sum_j p_hat_j * invDelta[j][f] in double, rounded to float like the exported constant.
STARNET_HD inline float rowEntry(const double* invDelta, int32_t numFiducials, int32_t f, double x, double y,
    const double* basis, int32_t basisStride)
{
    const double* column = invDelta + f;
    double acc = add(add(column[0], mul(x, column[numFiducials])), mul(y, column[2 * numFiducials]));
    for (int32_t k = 0; k < numFiducials; ++k)
    {
        acc = add(acc, mul(basis[k * basisStride], column[(3 + k) * numFiducials]));
    }
    return static_cast<float>(acc);
}

//! Whole row of A for the output point (x, y) (the CPU twin's loop; the kernel splits the same two steps over a
//! block). `invDelta` is row-major [(F+3) x F].
STARNET_HD inline void gridRow(const double* invDelta, int32_t numFiducials, double x, double y, float* row)
{
    double basis[kMAX_FIDUCIALS];
    for (int32_t k = 0; k < numFiducials; ++k)
    {
        basis[k] = basisTerm(k, numFiducials, x, y);
    }
    for (int32_t f = 0; f < numFiducials; ++f)
    {
        row[f] = rowEntry(invDelta, numFiducials, f, x, y, basis, 1);
    }
}

//! acc + a * b with two roundings on both host and device (the host is built with -ffp-contract=off; the device
//! would otherwise fuse an FMA). This is the reference model's float32 arithmetic: with it the twins equal
//! PyTorch's MatMul + grid_sample to ~1e-7, with FMA they drift to ~1e-5, because a last-bit change of a grid
//! point is multiplied by the pixel scale (up to ~width / 2) in the sampling position.
STARNET_HD inline float mulAdd(float acc, float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fadd_rn(acc, __fmul_rn(a, b));
#else
    return acc + a * b;
#endif
}

//! acc + a * b with one rounding, used for float16 images: their half-precision storage (relative 5e-4) hides the
//! ~1e-5 the FMA moves, and it halves the dot product's instructions. Both twins use it, so they still agree.
STARNET_HD inline float mulAddFused(float acc, float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fmaf_rn(a, b, acc);
#else
    return fmaf(a, b, acc); // correctly rounded; glibc uses the FMA instruction where the CPU has one
#endif
}

//! The dot-product step for an image storage type: exact reference roundings for float32, FMA for float16.
template <bool kHalfImage>
STARNET_HD inline float gridStep(float acc, float a, float b)
{
    return kHalfImage ? mulAddFused(acc, a, b) : mulAdd(acc, a, b);
}

//! Source coordinate in pixels for a normalized grid value (ONNX GridSample / PyTorch grid_sample, float math).
STARNET_HD inline float sourceIndex(float g, int32_t size, bool alignCorners, Padding padding)
{
#if defined(__CUDA_ARCH__)
    const float g1 = __fadd_rn(g, 1.f);
    float v = alignCorners ? __fmul_rn(__fmul_rn(g1, 0.5f), static_cast<float>(size - 1))
                           : __fmul_rn(__fsub_rn(__fmul_rn(g1, static_cast<float>(size)), 1.f), 0.5f);
#else
    float v = alignCorners ? (g + 1.f) * 0.5f * static_cast<float>(size - 1)
                           : ((g + 1.f) * static_cast<float>(size) - 1.f) * 0.5f;
#endif
    if (padding == Padding::kBORDER)
    {
        const float hi = static_cast<float>(size - 1);
        v = v < 0.f ? 0.f : (v > hi ? hi : v);
    }
    return v;
}

//! Bilinear taps of one sampling point: four source offsets (y * width + x) and weights; a tap outside the image has
//! weight 0 and an in-bounds offset (zeros padding), so callers need no bounds checks.
struct BilinearTaps
{
    int32_t offset[4];
    float weight[4];
};

STARNET_HD inline BilinearTaps bilinearTaps(
    float gx, float gy, int32_t height, int32_t width, bool alignCorners, Padding padding)
{
    BilinearTaps t;
    const float ix = sourceIndex(gx, width, alignCorners, padding);
    const float iy = sourceIndex(gy, height, alignCorners, padding);
    // NaN or huge coordinates (a diverged localization net) land outside and sample zeros instead of overflowing.
    const bool finite =
        ix > -2.f && ix < static_cast<float>(width) + 1.f && iy > -2.f && iy < static_cast<float>(height) + 1.f;
    const float fx0 = finite ? floorf(ix) : -4.f;
    const float fy0 = finite ? floorf(iy) : -4.f;
    const int32_t x0 = static_cast<int32_t>(fx0);
    const int32_t y0 = static_cast<int32_t>(fy0);
    const float tx = finite ? ix - fx0 : 0.f;
    const float ty = finite ? iy - fy0 : 0.f;
    // Bounds per coordinate, not per tap (one unsigned compare each), and the weights as products of masked factors:
    // a factor is 0 outside, so a tap weighs wx * wy inside and exactly +0 outside, as with a per-tap test. With the
    // kernel's 32-bit offsets this took its sm_90 loop from 229 to 187 instructions per pixel and sample (float16).
    const bool inX0 = static_cast<uint32_t>(x0) < static_cast<uint32_t>(width);
    const bool inX1 = static_cast<uint32_t>(x0 + 1) < static_cast<uint32_t>(width);
    const bool inY0 = static_cast<uint32_t>(y0) < static_cast<uint32_t>(height);
    const bool inY1 = static_cast<uint32_t>(y0 + 1) < static_cast<uint32_t>(height);
    const float wx0 = inX0 ? 1.f - tx : 0.f;
    const float wx1 = inX1 ? tx : 0.f;
    const float wy0 = inY0 ? 1.f - ty : 0.f;
    const float wy1 = inY1 ? ty : 0.f;
    const int32_t c0 = inX0 ? x0 : 0;
    const int32_t c1 = inX1 ? x0 + 1 : 0;
    const int32_t r0 = inY0 ? y0 * width : 0;
    const int32_t r1 = inY1 ? (y0 + 1) * width : 0;
    t.offset[0] = r0 + c0;
    t.offset[1] = r0 + c1;
    t.offset[2] = r1 + c0;
    t.offset[3] = r1 + c1;
    t.weight[0] = wx0 * wy0;
    t.weight[1] = wx1 * wy0;
    t.weight[2] = wx0 * wy1;
    t.weight[3] = wx1 * wy1;
    return t;
}

//! Solves delta_C and writes rows 0..F+2, columns 0..F-1 of its inverse into `out` (row-major [(F+3) x F]).
//! Host only (called once per plugin/configuration). Returns false for an unsupported F.
inline bool inverseDelta(int32_t numFiducials, double* out)
{
    const int32_t f = numFiducials;
    if (f < kMIN_FIDUCIALS || f > kMAX_FIDUCIALS || f % 2 != 0)
    {
        return false;
    }
    const int32_t n = f + 3;
    // Augmented [delta_C | I_(:, :F)], Gauss-Jordan with partial pivoting, in double.
    double m[(kMAX_FIDUCIALS + 3) * (2 * kMAX_FIDUCIALS + 3)];
    const int32_t cols = n + f;
    auto at = [&](int32_t r, int32_t c) -> double& {
        return m[r * cols + c];
    };
    for (int32_t r = 0; r < n; ++r)
    {
        for (int32_t c = 0; c < cols; ++c)
        {
            at(r, c) = 0.0;
        }
    }
    for (int32_t i = 0; i < f; ++i)
    {
        double xi;
        double yi;
        baseFiducial(i, f, xi, yi);
        at(i, 0) = 1.0;
        at(i, 1) = xi;
        at(i, 2) = yi;
        for (int32_t j = 0; j < f; ++j)
        {
            double xj;
            double yj;
            baseFiducial(j, f, xj, yj);
            // hat_C = (|c_i - c_j| + I)^2 log(|c_i - c_j| + I): zero on the diagonal.
            const double dx = xi - xj;
            const double dy = yi - yj;
            const double r = sqrt(dx * dx + dy * dy) + (i == j ? 1.0 : 0.0);
            at(i, 3 + j) = r * r * log(r);
        }
        at(f, 3 + i) = xi;
        at(f + 1, 3 + i) = yi;
        at(f + 2, 3 + i) = 1.0;
        at(i, n + i) = 1.0;
    }
    for (int32_t col = 0; col < n; ++col)
    {
        int32_t pivot = col;
        for (int32_t r = col + 1; r < n; ++r)
        {
            if (fabs(at(r, col)) > fabs(at(pivot, col)))
            {
                pivot = r;
            }
        }
        if (at(pivot, col) == 0.0)
        {
            return false;
        }
        if (pivot != col)
        {
            for (int32_t c = 0; c < cols; ++c)
            {
                const double tmp = at(col, c);
                at(col, c) = at(pivot, c);
                at(pivot, c) = tmp;
            }
        }
        const double inv = 1.0 / at(col, col);
        for (int32_t c = 0; c < cols; ++c)
        {
            at(col, c) *= inv;
        }
        for (int32_t r = 0; r < n; ++r)
        {
            if (r != col && at(r, col) != 0.0)
            {
                const double factor = at(r, col);
                for (int32_t c = 0; c < cols; ++c)
                {
                    at(r, c) -= factor * at(col, c);
                }
            }
        }
    }
    for (int32_t r = 0; r < n; ++r)
    {
        for (int32_t c = 0; c < f; ++c)
        {
            out[r * f + c] = at(r, n + c);
        }
    }
    return true;
}

} // namespace tps

//! Shapes and attributes of one StarNetTPSGridSample call. Tensors are C-contiguous: image [N, C, H, W],
//! fiducials [N, F, 2] as (x, y) in [-1, 1], output [N, C, outHeight, outWidth] in the image's dtype.
struct TpsShape
{
    int64_t batch{0};
    int32_t channels{0};
    int32_t inHeight{0};
    int32_t inWidth{0};
    int32_t numFiducials{0};
    int32_t outHeight{0};
    int32_t outWidth{0};
    bool alignCorners{true};
    tps::Padding padding{tps::Padding::kZEROS};
};

} // namespace starnet
