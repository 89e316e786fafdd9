// Fused TPS grid sampler. A block of kWARPS warps owns a tile of 32 consecutive output pixels (one per lane) and
// a chunk of samples:
//   1. the block evaluates the tile's rows of the TPS matrix (tpsGridSampleImpl.h, double): warp w computes the
//      basis terms k = w, w + kWARPS, ... of the 32 pixels, then the row entries f = w, w + kWARPS, ...; so the
//      ~F^2 double operations per pixel are spread over the block, once per chunk of samples;
//   2. warp w then rectifies samples w, w + kWARPS, ... of the chunk: the pixel's row sits in registers (F = 20,
//      STAR-Net's, is compiled as a constant; other F read it from shared memory), an F-term dot product with
//      the sample's fiducials (shared memory, broadcast) gives the grid point with the CPU twin's exact roundings
//      (mul + add for float32 images, FMA for float16 ones: tpsGridSampleImpl.h, gridStep),
//      then bilinear taps and all channels; reads are gathers, writes are coalesced along the 32 pixels.
//   A warp issues all of a sample's gathers before its stores.
// The launcher picks the chunk size so that the grid is one full wave of resident blocks (occupancy API; override
// for tuning: samplesPerBlock): more chunks repeat the row work, fewer leave multiprocessors idle.
//
// Table mode (launchTpsGridSampleTable): the rows come from a [H*W, F] float32 matrix in device memory (the
// exported model's own constant A, or tpsGridMatrix) instead of step 1, so a block does no double-precision work
// and has one barrier instead of two. Step 1 costs ~(F + 3) * F double FMAs plus F double logs and square roots
// per output pixel per chunk; GPUs outside the data-centre line run double precision at 1/32 (Turing, T4) or
// 1/64 (Ampere GA10x, Jetson Orin) of their float rate, so there the table is the form to use.
#include "cuda/tpsGridSample.h"

#include "cuda/deviceValue.cuh"
#include "cuda/occupancy.cuh"

#include <cuda_fp16.h>

#include <type_traits>

namespace starnet
{
namespace
{

using device::loadValue;
using device::storeValue;

constexpr int32_t kTILE = 32;
constexpr int32_t kWARPS = 8;
constexpr int32_t kTHREADS = kTILE * kWARPS;
constexpr int32_t kMIN_BLOCKS_PER_SM = 4; // caps registers at 64: the kernel is issue-bound, occupancy pays
constexpr int32_t kMAX_SAMPLES = 96;
constexpr int32_t kSTARNET_FIDUCIALS = 20;

//! Dynamic shared memory of one block: inv(delta_C) [(F+3) x F] and the basis terms [F x 32] in double, then the
//! rows [F x 32] and the chunk's fiducials [samples x 2F] in float (every part a multiple of 16 bytes for even F).
//! Table mode keeps only the fiducials.
size_t sharedBytes(int32_t numFiducials, int32_t samples, bool table)
{
    const size_t f = static_cast<size_t>(numFiducials);
    const size_t points = 4 * static_cast<size_t>(samples) * 2 * f;
    return table ? points : 8 * (f + 3) * f + 8 * kTILE * f + 4 * kTILE * f + points;
}

struct KernelShape
{
    int32_t batch;
    int32_t channels;
    int32_t inHeight;
    int32_t inWidth;
    int32_t numFiducials;
    int32_t outHeight;
    int32_t outWidth;
    int32_t samplesPerBlock;
    bool alignCorners;
    tps::Padding padding;
    bool compact; //!< C * H * W and C * Ho * Wo fit in int32: the STAR-Net paths use 32-bit offsets in a sample
};

//! Grid point of one sample: dot products of the pixel's row with the sample's fiducials (x, y interleaved).
template <int32_t F, bool kHalf>
__device__ inline void gridPoint(const float (&row)[F], const float* c, float& gx, float& gy)
{
    gx = 0.f;
    gy = 0.f;
#pragma unroll
    for (int32_t k = 0; k < F; k += 2)
    {
        const float4 pair = *reinterpret_cast<const float4*>(c + 2 * k); // x_k, y_k, x_k+1, y_k+1
        gx = tps::gridStep<kHalf>(gx, row[k], pair.x);
        gy = tps::gridStep<kHalf>(gy, row[k], pair.y);
        gx = tps::gridStep<kHalf>(gx, row[k + 1], pair.z);
        gy = tps::gridStep<kHalf>(gy, row[k + 1], pair.w);
    }
}

template <typename TImage>
__device__ inline void samplePixel(
    const KernelShape& s, float gx, float gy, const TImage* src, TImage* dst, int64_t inPlane, int32_t outPlane)
{
    const tps::BilinearTaps t = tps::bilinearTaps(gx, gy, s.inHeight, s.inWidth, s.alignCorners, s.padding);
    for (int32_t ch = 0; ch < s.channels; ++ch)
    {
        const TImage* plane = src + ch * inPlane;
        float v = 0.f;
#pragma unroll
        for (int32_t q = 0; q < 4; ++q)
        {
            v += t.weight[q] * loadValue(plane, t.offset[q]);
        }
        storeValue(dst, static_cast<int64_t>(ch) * outPlane, v);
    }
}

//! The sampling phase for STAR-Net's F = 20 and a compile-time channel count: a warp issues all C * 4 gathers of a
//! sample before its first store. Interleaving loads and stores per channel (a store may alias the next loads)
//! cost one memory latency per channel: 23.4 us against 18.2 us at N = 256 fp16 on an H200. Taking two or four
//! samples at a time was slower there (20.2 and 25.6 us): the registers it needs cut the occupancy, and the
//! kernel is issue-bound, not latency-bound (docs/gpu_selftest_h200.json, tools/gpu_profile.py).
//! Also tried in table mode there (2026-11-27, 12.8 us for this form) and dropped: two horizontally adjacent
//! pixels per thread (each fiducial load shared, paired stores; 118 registers, 2 blocks per SM): 17.4 us; float16
//! fiducials staged as float16 (five 16-byte shared loads per sample instead of ten, plus conversions): 13.9 us.
//! ncu there (table mode): L1 at 60-75% of its throughput, from the gathers; the largest stall is waiting on them
//! (long scoreboard, 3.8 of 11.5 cycles per issued instruction; ready but not selected: 1.9).
template <typename TImage, int32_t F, int32_t C>
__device__ inline void sampleChunk(const KernelShape& s, const float (&row)[F], const float* points, int32_t warp,
    int32_t count, int64_t n0, int32_t p, const TImage* __restrict__ image, TImage* __restrict__ out)
{
    constexpr bool kHalf = std::is_same<TImage, __half>::value;
    // 32-bit offsets inside a sample (the launcher checks C * H * W and C * Ho * Wo fit) and 64-bit sample pointers
    // advanced by a stride. With 64-bit offsets per tap and per-tap bounds tests (tpsGridSampleImpl.h, bilinearTaps)
    // this loop was 229 sm_90 instructions per pixel and sample for float16 images, 249 for float32; it is 187 and
    // 222 now (tools/sass_loops.py; tests/test_kernel_sass.py holds the budget). Not yet timed on a GPU.
    const int32_t outPlane = s.outHeight * s.outWidth;
    const int32_t inPlane = s.inHeight * s.inWidth;
    const TImage* src = image + (n0 + warp) * (C * static_cast<int64_t>(inPlane));
    TImage* dst = out + (n0 + warp) * (C * static_cast<int64_t>(outPlane)) + p;
    const int64_t srcStep = static_cast<int64_t>(kWARPS) * C * inPlane;
    const int64_t dstStep = static_cast<int64_t>(kWARPS) * C * outPlane;
    for (int32_t j = warp; j < count; j += kWARPS, src += srcStep, dst += dstStep)
    {
        float gx;
        float gy;
        gridPoint<F, kHalf>(row, points + j * 2 * F, gx, gy);
        const tps::BilinearTaps t = tps::bilinearTaps(gx, gy, s.inHeight, s.inWidth, s.alignCorners, s.padding);
        float v[C][4];
#pragma unroll
        for (int32_t ch = 0; ch < C; ++ch)
        {
#pragma unroll
            for (int32_t q = 0; q < 4; ++q)
            {
                v[ch][q] = loadValue(src, static_cast<int32_t>(ch * inPlane + t.offset[q]));
            }
        }
#pragma unroll
        for (int32_t ch = 0; ch < C; ++ch)
        {
            float acc = 0.f;
#pragma unroll
            for (int32_t q = 0; q < 4; ++q)
            {
                acc += t.weight[q] * v[ch][q];
            }
            storeValue(dst, static_cast<int32_t>(ch * outPlane), acc);
        }
    }
}

//! STAR-Net's F = 20 with a compile-time channel count: the pixel's row into registers, then the chunk.
template <typename TImage, int32_t C>
__device__ inline void sampleStarNet(const KernelShape& s, const float* row, int32_t rowStride, const float* points,
    int32_t warp, int32_t count, int64_t n0, int32_t p, const TImage* __restrict__ image, TImage* __restrict__ out)
{
    float r[kSTARNET_FIDUCIALS];
#pragma unroll
    for (int32_t k = 0; k < kSTARNET_FIDUCIALS; ++k)
    {
        r[k] = row[k * rowStride];
    }
    sampleChunk<TImage, kSTARNET_FIDUCIALS, C>(s, r, points, warp, count, n0, p, image, out);
}

//! The kernel body of both modes. On the fly (`kTable` false): step 1 of the header from `inverse` (rows in
//! shared memory, stride kTILE). Table mode: the pixel's row is `table[p * F ...]` (global memory, stride 1).
template <typename TImage, typename TFid, bool kTable>
__device__ inline void tpsGridSampleBody(const TImage* __restrict__ image, const TFid* __restrict__ fiducials,
    TImage* __restrict__ out, const KernelShape& s, const double* inverse, const float* __restrict__ table)
{
    extern __shared__ __align__(16) unsigned char shared[];
    constexpr bool kHalf = std::is_same<TImage, __half>::value;
    const int32_t f = s.numFiducials;
    double* inv = reinterpret_cast<double*>(shared);
    double* basis = inv + (f + 3) * f;
    float* rows = reinterpret_cast<float*>(basis + kTILE * f);
    float* points = kTable ? reinterpret_cast<float*>(shared) : rows + kTILE * f;
    const int32_t lane = static_cast<int32_t>(threadIdx.x) % kTILE;
    const int32_t warp = static_cast<int32_t>(threadIdx.x) / kTILE;
    const int32_t outPlane = s.outHeight * s.outWidth;
    const int32_t p = static_cast<int32_t>(blockIdx.x) * kTILE + lane;
    const int64_t n0 = static_cast<int64_t>(blockIdx.y) * s.samplesPerBlock;
    const int32_t count = static_cast<int32_t>(min(static_cast<int64_t>(s.samplesPerBlock), s.batch - n0));
    const int32_t clamped = p < outPlane ? p : outPlane - 1; // tail lanes compute a valid row, then idle

    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < count * 2 * f; i += kTHREADS)
    {
        points[i] = loadValue(fiducials, n0 * 2 * f + i);
    }
    const float* row = nullptr;
    int32_t rowStride = 1;
    if constexpr (kTable)
    {
        row = table + static_cast<int64_t>(clamped) * f;
        if (f == kSTARNET_FIDUCIALS && s.compact && (s.channels == 3 || s.channels == 1))
        {
            // The row's loads go out before the barrier, in flight with the fiducials' staging.
            float r[kSTARNET_FIDUCIALS];
#pragma unroll
            for (int32_t k = 0; k < kSTARNET_FIDUCIALS; ++k)
            {
                r[k] = __ldg(row + k);
            }
            __syncthreads();
            if (p >= outPlane)
            {
                return;
            }
            if (s.channels == 3)
            {
                sampleChunk<TImage, kSTARNET_FIDUCIALS, 3>(s, r, points, warp, count, n0, p, image, out);
            }
            else
            {
                sampleChunk<TImage, kSTARNET_FIDUCIALS, 1>(s, r, points, warp, count, n0, p, image, out);
            }
            return;
        }
        __syncthreads();
    }
    else
    {
        // Stage inv(delta_C) in shared memory: the row entries walk its columns, which from the parameter bank
        // would be a chain of constant-cache misses.
        for (int32_t i = static_cast<int32_t>(threadIdx.x); i < (f + 3) * f; i += kTHREADS)
        {
            inv[i] = inverse[i];
        }
        const int32_t py = clamped / s.outWidth;
        const double x = tps::outputCoordinate(clamped - py * s.outWidth, s.outWidth);
        const double y = tps::outputCoordinate(py, s.outHeight);
        for (int32_t k = warp; k < f; k += kWARPS)
        {
            basis[k * kTILE + lane] = tps::basisTerm(k, f, x, y);
        }
        __syncthreads();
        for (int32_t e = warp; e < f; e += kWARPS)
        {
            rows[e * kTILE + lane] = tps::rowEntry(inv, f, e, x, y, basis + lane, kTILE);
        }
        __syncthreads();
        row = rows + lane;
        rowStride = kTILE;
    }
    if (p >= outPlane)
    {
        return;
    }
    if constexpr (!kTable) // table mode took these cases above, with the row loaded before the barrier
    {
        if (f == kSTARNET_FIDUCIALS && s.compact && s.channels == 3)
        {
            sampleStarNet<TImage, 3>(s, row, rowStride, points, warp, count, n0, p, image, out);
            return;
        }
        if (f == kSTARNET_FIDUCIALS && s.compact && s.channels == 1)
        {
            sampleStarNet<TImage, 1>(s, row, rowStride, points, warp, count, n0, p, image, out);
            return;
        }
    }
    const int64_t inPlane = static_cast<int64_t>(s.inHeight) * s.inWidth;
    const int64_t sampleIn = s.channels * inPlane;
    const int64_t sampleOut = static_cast<int64_t>(s.channels) * outPlane;
    for (int32_t j = warp; j < count; j += kWARPS)
    {
        const float* c = points + j * 2 * f;
        float gx = 0.f;
        float gy = 0.f;
        for (int32_t k = 0; k < f; ++k)
        {
            const float a = row[k * rowStride];
            gx = tps::gridStep<kHalf>(gx, a, c[2 * k]);
            gy = tps::gridStep<kHalf>(gy, a, c[2 * k + 1]);
        }
        const int64_t n = n0 + j;
        samplePixel(s, gx, gy, image + n * sampleIn, out + n * sampleOut + p, inPlane, outPlane);
    }
}

template <typename TImage, typename TFid>
__global__ void __launch_bounds__(kTHREADS, kMIN_BLOCKS_PER_SM)
    tpsGridSampleKernel(const TImage* __restrict__ image, const TFid* __restrict__ fiducials, TImage* __restrict__ out,
        const KernelShape s, const __grid_constant__ tps::InverseDelta inverse)
{
    tpsGridSampleBody<TImage, TFid, false>(image, fiducials, out, s, inverse.values, nullptr);
}

//! Table mode: no 9 KB inverse-delta parameter, the rows come from `table` [H*W, F].
template <typename TImage, typename TFid>
__global__ void __launch_bounds__(kTHREADS, kMIN_BLOCKS_PER_SM)
    tpsGridSampleTableKernel(const TImage* __restrict__ image, const TFid* __restrict__ fiducials,
        TImage* __restrict__ out, const KernelShape s, const float* __restrict__ table)
{
    tpsGridSampleBody<TImage, TFid, true>(image, fiducials, out, s, nullptr, table);
}

//! One launch of either kernel: `table` non-null selects table mode, else `inverse` drives the on-the-fly rows.
template <typename TImage, typename TFid>
cudaError_t launchTyped(const KernelShape& s, dim3 grid, const tps::InverseDelta* inverse, const float* table,
    const void* image, const void* fiducials, void* out, cudaStream_t stream)
{
    const size_t smem = sharedBytes(s.numFiducials, s.samplesPerBlock, table != nullptr);
    if (table != nullptr)
    {
        tpsGridSampleTableKernel<TImage, TFid><<<grid, kTHREADS, smem, stream>>>(static_cast<const TImage*>(image),
            static_cast<const TFid*>(fiducials), static_cast<TImage*>(out), s, table);
    }
    else
    {
        tpsGridSampleKernel<TImage, TFid><<<grid, kTHREADS, smem, stream>>>(static_cast<const TImage*>(image),
            static_cast<const TFid*>(fiducials), static_cast<TImage*>(out), s, *inverse);
    }
    return cudaGetLastError();
}

//! Resident blocks of the kernel of one mode and dtype pair on the whole GPU.
template <typename TImage, typename TFid>
int64_t blockSlots(size_t smem, bool table)
{
    return table ? device::residentBlocks(tpsGridSampleTableKernel<TImage, TFid>, kTHREADS, smem)
                 : device::residentBlocks(tpsGridSampleKernel<TImage, TFid>, kTHREADS, smem);
}

cudaError_t launchEither(const TpsShape& shape, const tps::InverseDelta* inverse, const float* table,
    const void* dImage, bool imageHalf, const void* dFiducials, bool fiducialsHalf, void* dOut, cudaStream_t stream,
    int32_t samplesPerBlock)
{
    const int64_t outPlane = static_cast<int64_t>(shape.outHeight) * shape.outWidth;
    const int64_t inPlane = static_cast<int64_t>(shape.inHeight) * shape.inWidth;
    // The taps' offsets are y * width + x in int32 (tpsGridSampleImpl.h), as the CPU twin also requires.
    if (shape.batch < 0 || shape.batch > INT32_MAX || shape.channels < 1 || shape.inHeight < 1 || shape.inWidth < 1
        || inPlane > INT32_MAX || outPlane < 1 || outPlane > INT32_MAX || shape.numFiducials < tps::kMIN_FIDUCIALS
        || shape.numFiducials > tps::kMAX_FIDUCIALS || shape.numFiducials % 2 != 0
        || (inverse == nullptr && table == nullptr))
    {
        return cudaErrorInvalidValue;
    }
    if (shape.batch == 0)
    {
        return cudaSuccess;
    }
    const bool isTable = table != nullptr;
    const int64_t tiles = (outPlane + kTILE - 1) / kTILE;
    int64_t perBlock = samplesPerBlock;
    if (perBlock <= 0)
    {
        // One full wave: as many sample chunks as there are block slots per pixel tile (at least one), so the
        // row work is repeated as little as the GPU's width allows and no lone tail wave is left. Slots are
        // counted at the largest chunk's shared memory, so the wave never overflows.
        const size_t smem = sharedBytes(shape.numFiducials, kMAX_SAMPLES, isTable);
        const int64_t slots =
            imageHalf
                ? (fiducialsHalf ? blockSlots<__half, __half>(smem, isTable) : blockSlots<__half, float>(smem, isTable))
                : (fiducialsHalf ? blockSlots<float, __half>(smem, isTable) : blockSlots<float, float>(smem, isTable));
        const int64_t chunksWanted = slots > tiles ? slots / tiles : 1;
        perBlock = (shape.batch + chunksWanted - 1) / chunksWanted;
    }
    perBlock = perBlock < 1 ? 1 : (perBlock > kMAX_SAMPLES ? kMAX_SAMPLES : perBlock);
    const int64_t chunks = (shape.batch + perBlock - 1) / perBlock;
    if (tiles > INT32_MAX || chunks > 65535)
    {
        return cudaErrorInvalidConfiguration;
    }
    const KernelShape s{static_cast<int32_t>(shape.batch), shape.channels, shape.inHeight, shape.inWidth,
        shape.numFiducials, shape.outHeight, shape.outWidth, static_cast<int32_t>(perBlock), shape.alignCorners,
        shape.padding, shape.channels * inPlane <= INT32_MAX && shape.channels * outPlane <= INT32_MAX};
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(chunks));
    if (imageHalf)
    {
        return fiducialsHalf ? launchTyped<__half, __half>(s, grid, inverse, table, dImage, dFiducials, dOut, stream)
                             : launchTyped<__half, float>(s, grid, inverse, table, dImage, dFiducials, dOut, stream);
    }
    return fiducialsHalf ? launchTyped<float, __half>(s, grid, inverse, table, dImage, dFiducials, dOut, stream)
                         : launchTyped<float, float>(s, grid, inverse, table, dImage, dFiducials, dOut, stream);
}

} // namespace

cudaError_t launchTpsGridSample(const TpsShape& shape, const tps::InverseDelta& inverse, const void* dImage,
    bool imageHalf, const void* dFiducials, bool fiducialsHalf, void* dOut, cudaStream_t stream,
    int32_t samplesPerBlock)
{
    return launchEither(
        shape, &inverse, nullptr, dImage, imageHalf, dFiducials, fiducialsHalf, dOut, stream, samplesPerBlock);
}

cudaError_t launchTpsGridSampleTable(const TpsShape& shape, const float* dTable, const void* dImage, bool imageHalf,
    const void* dFiducials, bool fiducialsHalf, void* dOut, cudaStream_t stream, int32_t samplesPerBlock)
{
    if (dTable == nullptr)
    {
        return cudaErrorInvalidValue;
    }
    return launchEither(
        shape, nullptr, dTable, dImage, imageHalf, dFiducials, fiducialsHalf, dOut, stream, samplesPerBlock);
}

} // namespace starnet
