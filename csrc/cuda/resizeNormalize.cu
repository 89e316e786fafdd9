// Bilinear resize + normalize. A block owns a band of output rows of one image (grid: images x bands): it computes
// the image's resized width, the column taps and its rows' taps (shared memory) and a 256-entry normalisation table
// once, then each thread produces groups of kPIXELS pixels (1 or 2) (all channels of a pixel per thread, so the taps
// are read once): it issues the gathers of every pixel of a group before its first store, so a thread has kPIXELS * 12
// loads in flight instead of 12. The math is the shared resizeNormalizeImpl.h, so the GPU output equals the CPU output
// bit for bit; doing the double-precision tap arithmetic once per column/row instead of once per pixel is what makes
// the kernel memory- rather than instruction-bound.
//
// Why bands: at N = 256, 32x100, one block of 512 threads per image (the first form of this kernel) left half the
// thread slots of an H200 empty and had each thread wait on ~7 dependent gather rounds; it measured 9.6 us, 43% of
// the bandwidth floor (docs/gpu_selftest_h200.json). The launcher now sizes the bands so the grid fills one wave of
// resident blocks (occupancy API); tools/gpu_selftest times other band counts and group sizes as tuning rows.
//
// Tried on an H200 at N = 256 (2026-11-27, 9.3 us for this form) and dropped, slower or no faster:
// - compile-time channel offsets for interleaved images (loads at `tap pointer + immediate`): 6% fewer
//   instructions, same time; waiting on loads (long scoreboard) is the largest stall, issue is not the limit;
// - one or two aligned 8-byte loads per tap row instead of six byte loads: 2.5x fewer load requests, 12.0 us;
// - four pixels per thread (128 registers, 2 blocks per SM): 10.0 us with 1 band, 11.2 us with 2;
// - every thread deriving the image's constants itself (one barrier fewer at the block's start): 9.4 us, the same.
#include "cuda/resizeNormalize.h"

#include "cuda/pilResize.h"

#include "core/resizeNormalizeImpl.h"

#include "cuda/deviceValue.cuh"
#include "cuda/occupancy.cuh"

#include <cuda_fp16.h>

namespace starnet
{
namespace
{

using device::storeValue;

constexpr int kBLOCK = 256;
//! Resident blocks per SM the register cap must allow (where the SM has the thread slots): a thread holds 12
//! gathered bytes (one register each) and 4 weights per pixel of its group. One pixel fits in 40 registers (6
//! blocks: 1536 threads per SM on sm_87/sm_90; 32 registers spilled on sm_90), two in 64 (4 blocks); four pixels
//! spilled at 64 registers (sm_75/87/90), so groups stop at two.
//! Turing SMs hold 1024 threads: 4 blocks there (asking for more makes ptxas ignore the bound).
template <int32_t kPIXELS>
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr int kMIN_BLOCKS_PER_SM = 4;
#else
constexpr int kMIN_BLOCKS_PER_SM = kPIXELS == 1 ? 6 : 4;
#endif
constexpr int kMAX_TAP_BYTES = 40 * 1024; // (rows of the band + outW) taps in dynamic shared memory
constexpr int kDEFAULT_PIXELS = 2;

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

//! The 12 source bytes of one output pixel: v[plane][q], q = (row 0, col 0), (row 0, col 1), (row 1, col 0),
//! (row 1, col 1); plane p is the source channel feeding output plane p (B, G, R). Gray-before-resize reads the
//! same 12 bytes (three channels at four positions) and converts them per position.
struct Gathered
{
    uint8_t v[3][4];
    int32_t wx0;
    int32_t wx1;
    int32_t wy0;
    int32_t wy1;
};

__device__ inline Gathered gather(
    const uint8_t* __restrict__ base, const OffsetTap& cx, const OffsetTap& cy, const int32_t (&source)[3])
{
    Gathered g;
    const int32_t offset[4] = {cy.o0 + cx.o0, cy.o0 + cx.o1, cy.o1 + cx.o0, cy.o1 + cx.o1};
#pragma unroll
    for (int32_t p = 0; p < 3; ++p)
    {
#pragma unroll
        for (int32_t q = 0; q < 4; ++q)
        {
            g.v[p][q] = __ldg(base + offset[q] + source[p]);
        }
    }
    g.wx0 = cx.w0;
    g.wx1 = cx.w1;
    g.wy0 = cy.w0;
    g.wy1 = cy.w1;
    return g;
}

//! Normalised output values of one gathered pixel, in the CPU loop's order of operations.
template <typename TOut>
__device__ inline void finish(const Gathered& g, const float* table, TOut* __restrict__ dst, int32_t i, int32_t plane,
    int32_t outChannels, bool grayFirst, bool grayInput)
{
    const resize::LinearTap wx{0, 0, g.wx0, g.wx1};
    const resize::LinearTap wy{0, 0, g.wy0, g.wy1};
    if (grayFirst)
    {
        uint8_t gray[4];
#pragma unroll
        for (int32_t q = 0; q < 4; ++q)
        {
            gray[q] = resize::pilGray(g.v[0][q], g.v[1][q], g.v[2][q]);
        }
        const int32_t h0 = resize::horizontal(gray[0], gray[1], wx);
        const int32_t h1 = resize::horizontal(gray[2], gray[3], wx);
        storeValue(dst, i, table[resize::vertical(h0, h1, wy)]);
        return;
    }
    uint8_t bgr[3];
#pragma unroll
    for (int32_t p = 0; p < 3; ++p)
    {
        const int32_t h0 = resize::horizontal(g.v[p][0], g.v[p][1], wx);
        const int32_t h1 = resize::horizontal(g.v[p][2], g.v[p][3], wx);
        bgr[p] = resize::vertical(h0, h1, wy);
    }
    if (outChannels == 3)
    {
#pragma unroll
        for (int32_t p = 0; p < 3; ++p)
        {
            storeValue(dst, static_cast<int64_t>(p) * plane + i, table[bgr[p]]);
        }
        return;
    }
    storeValue(dst, i, grayInput ? table[bgr[0]] : resize::normalize(resize::grayFromBgr(bgr[0], bgr[1], bgr[2])));
}

//! Shape of one launch: output size, rows per band, and what the mode asks.
struct LaunchShape
{
    int32_t outChannels;
    int32_t outH;
    int32_t outW;
    int32_t bandRows;
    bool inputIsRgb;
    ResizeMode mode;
};

//! Block (image blockIdx.x, band blockIdx.y) of a launch; kPIXELS pixels per thread per group.
template <typename TOut, int32_t kPIXELS>
__global__ void __launch_bounds__(kBLOCK, kMIN_BLOCKS_PER_SM<kPIXELS>)
    resizeNormalizeKernel(const uint8_t* __restrict__ images, const ImageDesc* __restrict__ descs,
        TOut* __restrict__ out, int32_t* __restrict__ widths, const LaunchShape s)
{
    extern __shared__ OffsetTap taps[]; // outW column taps, then the band's row taps
    __shared__ float table[256];
    __shared__ double scales[2];
    __shared__ int32_t resizedWidth;
    const int32_t n = static_cast<int32_t>(blockIdx.x);
    const int32_t band = static_cast<int32_t>(blockIdx.y);
    const int32_t tid = static_cast<int32_t>(threadIdx.x);
    const int32_t outW = s.outW;
    const int32_t row0 = band * s.bandRows;
    const int32_t rows = min(s.bandRows, s.outH - row0);
    const ImageDesc d = descs[n];
    if (tid == 0)
    {
        // The image's double-precision constants once per block (three divisions), not once per thread.
        const int32_t w = resize::fittedWidth(d.height, d.width, s.outH, outW, s.mode);
        resizedWidth = w;
        scales[0] = resize::linearScale(d.width, w);
        scales[1] = resize::linearScale(d.height, s.outH);
        if (band == 0)
        {
            widths[n] = w;
        }
    }
    for (int32_t v = tid; v < 256; v += kBLOCK)
    {
        table[v] = resize::normalize(static_cast<float>(v));
    }
    __syncthreads();
    const int32_t rw = resizedWidth;
    OffsetTap* tx = taps;
    OffsetTap* ty = taps + outW;
    for (int32_t i = tid; i < rw; i += kBLOCK)
    {
        tx[i] = offsetTap(resize::linearTap(i, scales[0], d.width, true), d.strideX);
    }
    for (int32_t i = tid; i < rows; i += kBLOCK)
    {
        ty[i] = offsetTap(resize::linearTap(row0 + i, scales[1], d.height, false), d.strideY);
    }
    __syncthreads();
    const int32_t plane = s.outH * outW;
    TOut* dst = out + static_cast<int64_t>(n) * s.outChannels * plane + static_cast<int64_t>(row0) * outW;
    const uint8_t* base = images + d.offset;
    int32_t source[3];
#pragma unroll
    for (int32_t p = 0; p < 3; ++p)
    {
        source[p] = static_cast<int32_t>(resize::sourceChannel(p, d.channels, s.inputIsRgb) * d.strideC);
    }
    // DTRB's gray models: PIL's convert("L") of every source pixel the taps read, then the resize.
    const bool grayFirst = s.outChannels == 1 && s.mode.grayBeforeResize && d.channels != 1;
    const bool grayInput = d.channels == 1;
    const int32_t count = rows * outW; // pixels of the band; i is a pixel's index in it (and in dst)
    // (y, x) of a pixel, advanced by the block stride without a division.
    const int32_t stepY = kBLOCK / outW;
    const int32_t stepX = kBLOCK - stepY * outW;
    int32_t y = tid / outW;
    int32_t x = tid - y * outW;
    for (int32_t i0 = tid; i0 < count; i0 += kPIXELS * kBLOCK)
    {
        Gathered g[kPIXELS];
        int32_t at[kPIXELS]; // pixel index, or -1 (past the band) / -2 (padding) when nothing was gathered
#pragma unroll
        for (int32_t k = 0; k < kPIXELS; ++k)
        {
            const int32_t i = i0 + k * kBLOCK;
            at[k] = i >= count ? -1 : (x >= rw ? -2 : i);
            if (at[k] >= 0)
            {
                g[k] = gather(base, tx[x], ty[y], source);
            }
            x += stepX;
            y += stepY;
            if (x >= outW)
            {
                x -= outW;
                ++y;
            }
        }
        // Every gather of the group is in flight before the first store.
#pragma unroll
        for (int32_t k = 0; k < kPIXELS; ++k)
        {
            const int32_t i = i0 + k * kBLOCK;
            if (at[k] >= 0)
            {
                finish(g[k], table, dst, i, plane, s.outChannels, grayFirst, grayInput);
            }
            else if (at[k] == -2)
            {
                for (int32_t p = 0; p < s.outChannels; ++p)
                {
                    storeValue(dst, static_cast<int64_t>(p) * plane + i, 0.f);
                }
            }
        }
    }
}

template <typename TOut, int32_t kPIXELS>
cudaError_t launchTyped(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut, int32_t* dWidths,
    LaunchShape s, int32_t bands, cudaStream_t stream)
{
    if (bands <= 0)
    {
        // One wave: enough bands per image to fill the resident block slots, but at least one group of kPIXELS
        // pixels per thread in each band (smaller bands only repeat the per-block taps and table).
        const int64_t plane = static_cast<int64_t>(s.outH) * s.outW;
        const int64_t slots = device::residentBlocks(
            resizeNormalizeKernel<TOut, kPIXELS>, kBLOCK, (static_cast<size_t>(s.outH) + s.outW) * sizeof(OffsetTap));
        // Rounded down: rounding up made 3 bands, 768 blocks for 528 slots at N = 256 on an H200 (1.45 waves):
        // 10.7 us against 9.3 us for 2 bands.
        const int64_t wanted = slots > batch ? slots / batch : 1;
        const int64_t most = plane / (static_cast<int64_t>(kPIXELS) * kBLOCK);
        bands = static_cast<int32_t>(wanted < most ? wanted : (most > 1 ? most : 1));
    }
    bands = bands > s.outH ? s.outH : bands;
    s.bandRows = (s.outH + bands - 1) / bands;
    bands = (s.outH + s.bandRows - 1) / s.bandRows; // no empty band
    const size_t tapBytes = (static_cast<size_t>(s.bandRows) + static_cast<size_t>(s.outW)) * sizeof(OffsetTap);
    resizeNormalizeKernel<TOut, kPIXELS>
        <<<dim3(static_cast<unsigned>(batch), static_cast<unsigned>(bands)), kBLOCK, tapBytes, stream>>>(
            dImages, dDescs, static_cast<TOut*>(dOut), dWidths, s);
    return cudaGetLastError();
}

template <typename TOut>
cudaError_t launchPixels(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut, int32_t* dWidths,
    const LaunchShape& s, const ResizeTuning& tuning, cudaStream_t stream)
{
    switch (tuning.pixelsPerThread > 0 ? tuning.pixelsPerThread : kDEFAULT_PIXELS)
    {
    case 1:
        return launchTyped<TOut, 1>(dImages, dDescs, batch, dOut, dWidths, s, tuning.bandsPerImage, stream);
    case 2:
        return launchTyped<TOut, 2>(dImages, dDescs, batch, dOut, dWidths, s, tuning.bandsPerImage, stream);
    default:
        return cudaErrorInvalidValue;
    }
}

} // namespace

cudaError_t launchResizeNormalize(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut,
    bool outHalf, int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, int32_t* dWidths,
    cudaStream_t stream, ResizeMode mode, ResizeTuning tuning)
{
    if (mode.pilBicubic)
    {
        return launchPilResizeNormalize(
            dImages, dDescs, batch, dOut, outHalf, outChannels, outH, outW, inputIsRgb, dWidths, stream, mode);
    }
    if (batch <= 0 || outH <= 0 || outW <= 0 || (outChannels != 1 && outChannels != 3)
        || (mode.grayBeforeResize && outChannels != 1) || tuning.bandsPerImage < 0 || tuning.pixelsPerThread < 0)
    {
        return cudaErrorInvalidValue;
    }
    const size_t tapBytes = (static_cast<size_t>(outH) + static_cast<size_t>(outW)) * sizeof(OffsetTap);
    if (tapBytes > static_cast<size_t>(kMAX_TAP_BYTES) || static_cast<int64_t>(outH) * outW > INT32_MAX)
    {
        return cudaErrorInvalidValue; // an output over ~2500 pixels wide: not a text-line model input
    }
    const LaunchShape s{outChannels, outH, outW, outH, inputIsRgb, mode};
    return outHalf ? launchPixels<__half>(dImages, dDescs, batch, dOut, dWidths, s, tuning, stream)
                   : launchPixels<float>(dImages, dDescs, batch, dOut, dWidths, s, tuning, stream);
}

} // namespace starnet
