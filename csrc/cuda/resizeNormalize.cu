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
//
// Staged form (ResizeTuning::sourceStaging = kSTAGING_ON; not yet timed on a GPU, so not the default): the block first
// copies its band's source rows (one contiguous byte span of the image) into shared memory with 16-byte cp.async
// copies, all of them in flight at once and overlapped with the taps' arithmetic, then gathers from shared memory.
// The gather form waits on up to ~7 dependent rounds of global loads per thread (the stall ncu shows first); this one
// waits on one. A band whose span does not fit the block's share of shared memory (tall or strided sources) gathers
// from global memory as before, in the same launch. Both read the same bytes, so the outputs are identical.
#include "cuda/resizeNormalize.h"

#include "cuda/pilResize.h"

#include "core/resizeNormalizeImpl.h"

#include "cuda/deviceValue.cuh"
#include "cuda/occupancy.cuh"

#include <cuda_fp16.h>

#include <algorithm>

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
//! Dynamic shared memory of the staged form (taps + staged rows) stays under the 48 KB a launch gets without an
//! opt-in attribute.
constexpr size_t kMAX_STAGED_DYNAMIC = 48 * 1024;
constexpr size_t kSTAGE_ALIGN = 16;

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

//! One source byte: through the read-only cache from global memory, or a plain load from the staged rows (shared
//! memory; __ldg there would fault).
template <bool kSHARED>
__device__ inline uint8_t sourceByte(const uint8_t* p)
{
    if constexpr (kSHARED)
    {
        return *p;
    }
    else
    {
        return __ldg(p);
    }
}

template <bool kSHARED>
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
            g.v[p][q] = sourceByte<kSHARED>(base + offset[q] + source[p]);
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

//! Shape of one launch: output size, rows per band, what the mode asks, and the staged form's buffer.
struct LaunchShape
{
    int32_t outChannels;
    int32_t outH;
    int32_t outW;
    int32_t bandRows;
    bool inputIsRgb;
    ResizeMode mode;
    int32_t stageBytes; //!< staged form: bytes of the staged-rows buffer (a multiple of 16); 0 in the gather form
};

//! Bytes of the taps at the start of dynamic shared memory: outW column taps, then the band's row taps. A multiple
//! of 16 (sizeof(OffsetTap)), so the staged rows after them start 16-byte aligned.
__host__ __device__ inline size_t tapBytes(const LaunchShape& s)
{
    return (static_cast<size_t>(s.bandRows) + static_cast<size_t>(s.outW)) * sizeof(OffsetTap);
}

//! The band's source span in the staged form: source rows [row0, ...] as `bytes` contiguous bytes of the image
//! from its pixel (row0, 0, 0). `bytes` is 0 when the band gathers from global memory instead: strides that are not
//! all positive (flipped views), or a span over the buffer (counting the up to 15 bytes of alignment shift).
struct StageSpan
{
    int32_t row0;
    int32_t bytes;
};

__device__ inline StageSpan stageSpan(
    const ImageDesc& d, int32_t bandRow0, int32_t rows, double scaleY, int32_t capacity)
{
    // Row taps are monotonic in the output row, so the band reads source rows [first.i0, last.i1].
    const resize::LinearTap first = resize::linearTap(bandRow0, scaleY, d.height, false);
    const resize::LinearTap last = resize::linearTap(bandRow0 + rows - 1, scaleY, d.height, false);
    StageSpan span{first.i0, 0};
    if (d.strideY <= 0 || d.strideX <= 0 || d.strideC < 0)
    {
        return span;
    }
    const int64_t rowExtent =
        static_cast<int64_t>(d.width - 1) * d.strideX + static_cast<int64_t>(d.channels - 1) * d.strideC + 1;
    const int64_t bytes = static_cast<int64_t>(last.i1 - first.i0) * d.strideY + rowExtent;
    if (bytes + static_cast<int64_t>(kSTAGE_ALIGN - 1) <= capacity)
    {
        span.bytes = static_cast<int32_t>(bytes);
    }
    return span;
}

//! 16 bytes global -> shared without passing through registers (cp.async, sm_80+; in flight until stageWait), or
//! a load and a store before sm_80. Both addresses 16-byte aligned.
__device__ inline void stageCopy16(unsigned char* sharedDst, const unsigned char* globalSrc)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(sharedDst));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(globalSrc) : "memory");
#else
    *reinterpret_cast<uint4*>(sharedDst) = __ldg(reinterpret_cast<const uint4*>(globalSrc));
#endif
}

__device__ inline void stageWait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

//! Starts copying `bytes` bytes from `src` to `dst + (src % 16)`: whole aligned 16-byte chunks asynchronously, the
//! partial first and last chunks byte by byte (never reading outside [src, src + bytes)). The block must call
//! stageWait() and then __syncthreads() before reading `dst`.
__device__ inline void stageRows(unsigned char* dst, const uint8_t* src, int32_t bytes, int32_t tid)
{
    const int32_t shift = static_cast<int32_t>(reinterpret_cast<uintptr_t>(src) & (kSTAGE_ALIGN - 1));
    const unsigned char* aligned = src - shift;
    const int32_t end = shift + bytes;
    const int32_t chunks = (end + 15) >> 4;
    for (int32_t k = tid; k < chunks; k += kBLOCK)
    {
        const int32_t lo = k << 4;
        if (lo >= shift && lo + 16 <= end)
        {
            stageCopy16(dst + lo, aligned + lo);
        }
        else
        {
            for (int32_t b = max(lo, shift); b < min(lo + 16, end); ++b)
            {
                dst[b] = __ldg(aligned + b);
            }
        }
    }
}

//! The band's pixels, read from `base` (the image in global memory, or its staged rows in shared memory): groups
//! of kPIXELS pixels per thread, every gather of a group issued before its first store.
template <typename TOut, int32_t kPIXELS, bool kSHARED>
__device__ inline void bandPixels(const uint8_t* __restrict__ base, const OffsetTap* tx, const OffsetTap* ty,
    const int32_t (&source)[3], const float* table, TOut* __restrict__ dst, int32_t outChannels, int32_t plane,
    int32_t outW, int32_t rows, int32_t rw, bool grayFirst, bool grayInput, int32_t tid)
{
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
                g[k] = gather<kSHARED>(base, tx[x], ty[y], source);
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
                finish(g[k], table, dst, i, plane, outChannels, grayFirst, grayInput);
            }
            else if (at[k] == -2)
            {
                for (int32_t p = 0; p < outChannels; ++p)
                {
                    storeValue(dst, static_cast<int64_t>(p) * plane + i, 0.f);
                }
            }
        }
    }
}

//! Block (image blockIdx.x, band blockIdx.y) of a launch; kPIXELS pixels per thread per group; kSTAGED: the staged
//! form (bands whose source span fits s.stageBytes gather from shared memory).
template <typename TOut, int32_t kPIXELS, bool kSTAGED>
__global__ void __launch_bounds__(kBLOCK, kMIN_BLOCKS_PER_SM<kPIXELS>)
    resizeNormalizeKernel(const uint8_t* __restrict__ images, const ImageDesc* __restrict__ descs,
        TOut* __restrict__ out, int32_t* __restrict__ widths, const LaunchShape s)
{
    extern __shared__ __align__(16) unsigned char dynamicShared[]; // column taps, the band's row taps, staged rows
    __shared__ float table[256];
    __shared__ double scales[2];
    __shared__ int32_t resizedWidth;
    __shared__ StageSpan span;
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
        if constexpr (kSTAGED)
        {
            span = stageSpan(d, row0, rows, scales[1], s.stageBytes);
        }
    }
    for (int32_t v = tid; v < 256; v += kBLOCK)
    {
        table[v] = resize::normalize(static_cast<float>(v));
    }
    __syncthreads();
    const uint8_t* base = images + d.offset;
    unsigned char* staged = dynamicShared + tapBytes(s);
    const bool isStaged = kSTAGED && span.bytes > 0; // uniform across the block
    const int32_t stagedRow0 = isStaged ? span.row0 : 0;
    const uint8_t* spanStart = base + static_cast<int64_t>(stagedRow0) * d.strideY;
    if (isStaged)
    {
        stageRows(staged, spanStart, span.bytes, tid); // in flight while the taps are computed
    }
    const int32_t rw = resizedWidth;
    OffsetTap* tx = reinterpret_cast<OffsetTap*>(dynamicShared);
    OffsetTap* ty = tx + outW;
    for (int32_t i = tid; i < rw; i += kBLOCK)
    {
        tx[i] = offsetTap(resize::linearTap(i, scales[0], d.width, true), d.strideX);
    }
    for (int32_t i = tid; i < rows; i += kBLOCK)
    {
        resize::LinearTap t = resize::linearTap(row0 + i, scales[1], d.height, false);
        t.i0 -= stagedRow0; // staged: rows counted from the span's first row
        t.i1 -= stagedRow0;
        ty[i] = offsetTap(t, d.strideY);
    }
    if (isStaged)
    {
        stageWait();
    }
    __syncthreads();
    const int32_t plane = s.outH * outW;
    TOut* dst = out + static_cast<int64_t>(n) * s.outChannels * plane + static_cast<int64_t>(row0) * outW;
    int32_t source[3];
#pragma unroll
    for (int32_t p = 0; p < 3; ++p)
    {
        source[p] = static_cast<int32_t>(resize::sourceChannel(p, d.channels, s.inputIsRgb) * d.strideC);
    }
    // DTRB's gray models: PIL's convert("L") of every source pixel the taps read, then the resize.
    const bool grayFirst = s.outChannels == 1 && s.mode.grayBeforeResize && d.channels != 1;
    const bool grayInput = d.channels == 1;
    if (isStaged)
    {
        const int32_t shift = static_cast<int32_t>(reinterpret_cast<uintptr_t>(spanStart) & (kSTAGE_ALIGN - 1));
        bandPixels<TOut, kPIXELS, true>(staged + shift, tx, ty, source, table, dst, s.outChannels, plane, outW, rows,
            rw, grayFirst, grayInput, tid);
    }
    else
    {
        bandPixels<TOut, kPIXELS, false>(
            base, tx, ty, source, table, dst, s.outChannels, plane, outW, rows, rw, grayFirst, grayInput, tid);
    }
}

//! Bytes of staged rows a block of the staged form may use: its share of a multiprocessor's shared memory at the
//! kernel's intended blocks per multiprocessor (less the taps and the static part), at most what keeps the dynamic
//! total under 48 KB; 0 when less than one 16-byte chunk is left.
template <typename TOut, int32_t kPIXELS>
int32_t stageCapacity(const LaunchShape& s)
{
    int device = 0;
    int perSm = 0;
    int threadsPerSm = 0;
    cudaFuncAttributes attributes{};
    if (cudaGetDevice(&device) != cudaSuccess
        || cudaDeviceGetAttribute(&perSm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) != cudaSuccess
        || cudaDeviceGetAttribute(&threadsPerSm, cudaDevAttrMaxThreadsPerMultiProcessor, device) != cudaSuccess
        || cudaFuncGetAttributes(&attributes, resizeNormalizeKernel<TOut, kPIXELS, true>) != cudaSuccess)
    {
        cudaGetLastError();
        return 0;
    }
    // Blocks per multiprocessor the register bound (kMIN_BLOCKS_PER_SM: 6 at one pixel, 4 at two, on sm_80+) and the
    // thread slots allow; 1 KB per block is reserved by the runtime on sm_80+.
    const int64_t blocks = std::min<int64_t>(threadsPerSm / kBLOCK, kPIXELS == 1 ? 6 : 4);
    const int64_t share = static_cast<int64_t>(perSm) / std::max<int64_t>(blocks, 1) - 1024
                          - static_cast<int64_t>(attributes.sharedSizeBytes) - static_cast<int64_t>(tapBytes(s));
    const int64_t limit = static_cast<int64_t>(kMAX_STAGED_DYNAMIC) - static_cast<int64_t>(tapBytes(s));
    const int64_t bytes = std::min(share, limit) / 16 * 16;
    return bytes >= 16 ? static_cast<int32_t>(bytes) : 0;
}

template <typename TOut, int32_t kPIXELS, bool kSTAGED>
cudaError_t launchTyped(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut, int32_t* dWidths,
    LaunchShape s, int32_t bands, cudaStream_t stream)
{
    if constexpr (kSTAGED)
    {
        // Sized at the one-band taps (the most rows), so the buffer only grows when the bands are fixed below.
        s.bandRows = s.outH;
        s.stageBytes = stageCapacity<TOut, kPIXELS>(s);
    }
    if (bands <= 0)
    {
        // One wave: enough bands per image to fill the resident block slots, but at least one group of kPIXELS
        // pixels per thread in each band (smaller bands only repeat the per-block taps and table).
        const int64_t plane = static_cast<int64_t>(s.outH) * s.outW;
        const int64_t slots = device::residentBlocks(
            resizeNormalizeKernel<TOut, kPIXELS, kSTAGED>, kBLOCK, tapBytes(s) + static_cast<size_t>(s.stageBytes));
        // Rounded down: rounding up made 3 bands, 768 blocks for 528 slots at N = 256 on an H200 (1.45 waves):
        // 10.7 us against 9.3 us for 2 bands.
        const int64_t wanted = slots > batch ? slots / batch : 1;
        const int64_t most = plane / (static_cast<int64_t>(kPIXELS) * kBLOCK);
        bands = static_cast<int32_t>(wanted < most ? wanted : (most > 1 ? most : 1));
    }
    bands = bands > s.outH ? s.outH : bands;
    s.bandRows = (s.outH + bands - 1) / bands;
    bands = (s.outH + s.bandRows - 1) / s.bandRows; // no empty band
    const size_t smem = tapBytes(s) + static_cast<size_t>(s.stageBytes);
    resizeNormalizeKernel<TOut, kPIXELS, kSTAGED>
        <<<dim3(static_cast<unsigned>(batch), static_cast<unsigned>(bands)), kBLOCK, smem, stream>>>(
            dImages, dDescs, static_cast<TOut*>(dOut), dWidths, s);
    return cudaGetLastError();
}

template <typename TOut, int32_t kPIXELS>
cudaError_t launchStaging(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut, int32_t* dWidths,
    const LaunchShape& s, const ResizeTuning& tuning, cudaStream_t stream)
{
    const int32_t staging = tuning.sourceStaging == kSTAGING_DEFAULT ? kSTAGING_OFF : tuning.sourceStaging;
    return staging == kSTAGING_ON ? launchTyped<TOut, kPIXELS, true>(
                                        dImages, dDescs, batch, dOut, dWidths, s, tuning.bandsPerImage, stream)
                                  : launchTyped<TOut, kPIXELS, false>(
                                        dImages, dDescs, batch, dOut, dWidths, s, tuning.bandsPerImage, stream);
}

template <typename TOut>
cudaError_t launchPixels(const uint8_t* dImages, const ImageDesc* dDescs, int32_t batch, void* dOut, int32_t* dWidths,
    const LaunchShape& s, const ResizeTuning& tuning, cudaStream_t stream)
{
    switch (tuning.pixelsPerThread > 0 ? tuning.pixelsPerThread : kDEFAULT_PIXELS)
    {
    case 1:
        return launchStaging<TOut, 1>(dImages, dDescs, batch, dOut, dWidths, s, tuning, stream);
    case 2:
        return launchStaging<TOut, 2>(dImages, dDescs, batch, dOut, dWidths, s, tuning, stream);
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
        || (mode.grayBeforeResize && outChannels != 1) || tuning.bandsPerImage < 0 || tuning.pixelsPerThread < 0
        || tuning.sourceStaging < kSTAGING_DEFAULT || tuning.sourceStaging > kSTAGING_ON)
    {
        return cudaErrorInvalidValue;
    }
    const size_t oneBandTaps = (static_cast<size_t>(outH) + static_cast<size_t>(outW)) * sizeof(OffsetTap);
    if (oneBandTaps > static_cast<size_t>(kMAX_TAP_BYTES) || static_cast<int64_t>(outH) * outW > INT32_MAX)
    {
        return cudaErrorInvalidValue; // an output over ~2500 pixels wide: not a text-line model input
    }
    const LaunchShape s{outChannels, outH, outW, outH, inputIsRgb, mode, 0};
    return outHalf ? launchPixels<__half>(dImages, dDescs, batch, dOut, dWidths, s, tuning, stream)
                   : launchPixels<float>(dImages, dDescs, batch, dOut, dWidths, s, tuning, stream);
}

} // namespace starnet
