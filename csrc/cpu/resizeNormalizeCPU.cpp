#include "cpu/resizeNormalizeCPU.h"

#include "core/resizeNormalizeImpl.h"
#include "cpu/parallelFor.h"
#include "cpu/pilResizeCPU.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace starnet
{
namespace
{

//! normalize(v) for every uint8 level: a table lookup is several times cheaper than the float division, and it is
//! built with the same function, so results are identical.
struct NormalizeTable
{
    float values[256];
    NormalizeTable()
    {
        for (int v = 0; v < 256; ++v)
        {
            values[v] = resize::normalize(static_cast<float>(v));
        }
    }
};

const NormalizeTable kNORMALIZE;

//! Lanes per pixel in the colour row buffers: the three colour channels in *source* order plus one pad lane, so a
//! pixel is one 64-bit store and the vertical pass is a single contiguous int16 loop that vectorises. Gray input uses
//! one lane. The B/G/R (and RGB swap) mapping happens only when the output planes are written.
constexpr int32_t kLANES = 4;

//! Per-thread scratch, reused across images so the hot loop never allocates.
struct Scratch
{
    // Horizontal taps as structure-of-arrays, offsets in bytes (already multiplied by the x stride).
    std::vector<int64_t> xOff0;
    std::vector<int64_t> xOff1;
    std::vector<int32_t> xW0;
    std::vector<int32_t> xW1;
    std::vector<int32_t> xW01; // w0 in the low and w1 in the high 16 bits: one pmaddwd operand per pixel
    std::vector<resize::LinearTap> yTaps;
    // Horizontally filtered source rows (already `verticalInput`-shifted), [x][lane], for the two source rows
    // feeding the current output row.
    std::vector<int16_t> rows[2];
    std::vector<uint8_t> levels; // vertical result of one output row, same layout
    int32_t rowIds[2]{-1, -1};
    // Gray before the resize (ResizeMode::grayBeforeResize): byte offsets of the B, G, R source channels.
    bool grayFirst{false};
    int64_t grayChannel[3]{0, 0, 0};
};

//! Any strides: the scalar form of the horizontal pass. `lanes` is 1 (gray input) or kLANES.
void horizontalGeneric(const uint8_t* src, int64_t strideC, int32_t lanes, int32_t rw, const Scratch& s, int16_t* dst)
{
    const int32_t used = lanes == 1 ? 1 : 3;
    for (int32_t x = 0; x < rw; ++x)
    {
        const resize::LinearTap t{0, 0, s.xW0[static_cast<size_t>(x)], s.xW1[static_cast<size_t>(x)]};
        const uint8_t* p0 = src + s.xOff0[static_cast<size_t>(x)];
        const uint8_t* p1 = src + s.xOff1[static_cast<size_t>(x)];
        int16_t* d = dst + static_cast<int64_t>(x) * lanes;
        for (int32_t c = 0; c < used; ++c)
        {
            d[c] = resize::verticalInput(resize::horizontal(p0[c * strideC], p1[c * strideC], t));
        }
        if (lanes == kLANES)
        {
            d[3] = 0;
        }
    }
}

//! PIL's convert("L") of both taps' source pixels, then the horizontal pass, into one lane: DTRB's gray-then-resize.
void horizontalGrayFirst(const uint8_t* src, int32_t rw, const Scratch& s, int16_t* dst)
{
    const int64_t* ch = s.grayChannel;
    for (int32_t x = 0; x < rw; ++x)
    {
        const resize::LinearTap t{0, 0, s.xW0[static_cast<size_t>(x)], s.xW1[static_cast<size_t>(x)]};
        const uint8_t* p0 = src + s.xOff0[static_cast<size_t>(x)];
        const uint8_t* p1 = src + s.xOff1[static_cast<size_t>(x)];
        const uint8_t g0 = resize::pilGray(p0[ch[0]], p0[ch[1]], p0[ch[2]]);
        const uint8_t g1 = resize::pilGray(p1[ch[0]], p1[ch[1]], p1[ch[2]]);
        dst[x] = resize::verticalInput(resize::horizontal(g0, g1, t));
    }
}

#if defined(__SSE2__)
//! Interleaved pixels (strideX == channels, strideC == 1, 3 or 4 channels), the layout of every cv2/PIL image.
//! One 4-byte load per tap and one pmaddwd give p0 * w0 + p1 * w1 for all channels at once: exactly
//! resize::horizontal followed by resize::verticalInput (>> 4, then a pack that cannot saturate). The 4th lane holds
//! alpha or the next pixel's first byte and is never read back.
void horizontalPackedSSE2(const uint8_t* src, int64_t rowBytes, int32_t rw, const Scratch& s, int16_t* dst)
{
    const __m128i zero = _mm_setzero_si128();
    const int64_t* off0 = s.xOff0.data();
    const int64_t* off1 = s.xOff1.data();
    const int32_t* w01 = s.xW01.data();
    // Offsets grow with x, so only a suffix of pixels can have a 4-byte load running past the end of the row
    // (the last pixel of a 3-channel row); find it once instead of testing every pixel.
    int32_t safe = rw;
    while (safe > 0 && off1[safe - 1] + 4 > rowBytes)
    {
        --safe;
    }
    for (int32_t x = 0; x < safe; ++x)
    {
        int32_t a;
        int32_t b;
        std::memcpy(&a, src + off0[x], 4);
        std::memcpy(&b, src + off1[x], 4);
        __m128i pairs = _mm_unpacklo_epi8(_mm_cvtsi32_si128(a), _mm_cvtsi32_si128(b)); // a0 b0 a1 b1 ...
        pairs = _mm_unpacklo_epi8(pairs, zero);                                        // as int16
        __m128i h = _mm_madd_epi16(pairs, _mm_set1_epi32(w01[x]));
        h = _mm_srai_epi32(h, 4);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + static_cast<int64_t>(x) * kLANES), _mm_packs_epi32(h, h));
    }
    for (int32_t x = safe; x < rw; ++x)
    {
        const resize::LinearTap t{0, 0, s.xW0[static_cast<size_t>(x)], s.xW1[static_cast<size_t>(x)]};
        int16_t* d = dst + static_cast<int64_t>(x) * kLANES;
        for (int32_t c = 0; c < 3; ++c)
        {
            d[c] = resize::verticalInput(resize::horizontal(src[off0[x] + c], src[off1[x] + c], t));
        }
        d[3] = 0;
    }
}

//! Vertical blend, B/G/R split and normalisation of 4 pixels per step, straight from the kLANES row buffers into the
//! three output planes. Same arithmetic as the scalar path: pmulhw is `(a * w) >> 16`, the sums cannot saturate,
//! packus clamps like verticalBlend, and divps is the IEEE division of resize::normalize (`/ 0.5` is the exact
//! doubling `t + t`). Returns the number of pixels done; the caller finishes the tail with the scalar functions.
int32_t colourRowSSE2(const int16_t* h0, const int16_t* h1, int16_t w0, int16_t w1, const int32_t laneOf[3], int32_t rw,
    float* const planes[3])
{
    const __m128i vw0 = _mm_set1_epi16(w0);
    const __m128i vw1 = _mm_set1_epi16(w1);
    const __m128i two = _mm_set1_epi16(2);
    const __m128i byteMask = _mm_set1_epi32(0xff);
    const __m128 k255 = _mm_set1_ps(255.f);
    const __m128 kHalf = _mm_set1_ps(0.5f);
    const __m128i shift[3] = {
        _mm_cvtsi32_si128(8 * laneOf[0]), _mm_cvtsi32_si128(8 * laneOf[1]), _mm_cvtsi32_si128(8 * laneOf[2])};
    int32_t x = 0;
    for (; x + 4 <= rw; x += 4)
    {
        const int16_t* a = h0 + static_cast<int64_t>(x) * kLANES;
        const int16_t* b = h1 + static_cast<int64_t>(x) * kLANES;
        __m128i lo = _mm_adds_epi16(_mm_mulhi_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)), vw0),
            _mm_mulhi_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), vw1));
        __m128i hi = _mm_adds_epi16(_mm_mulhi_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 8)), vw0),
            _mm_mulhi_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 8)), vw1));
        lo = _mm_srai_epi16(_mm_add_epi16(lo, two), 2);
        hi = _mm_srai_epi16(_mm_add_epi16(hi, two), 2);
        const __m128i pixels = _mm_packus_epi16(lo, hi); // 4 pixels x 4 uint8 lanes
        for (int32_t p = 0; p < 3; ++p)
        {
            const __m128i level = _mm_and_si128(_mm_srl_epi32(pixels, shift[p]), byteMask);
            const __m128 t = _mm_sub_ps(_mm_div_ps(_mm_cvtepi32_ps(level), k255), kHalf);
            _mm_storeu_ps(planes[p] + x, _mm_add_ps(t, t));
        }
    }
    return x;
}
#endif

//! Horizontal pass of source row `r` into `dst` ([x][lanes]).
void horizontalRow(
    const ImageDesc& img, const uint8_t* base, int32_t r, int32_t lanes, int32_t rw, const Scratch& s, int16_t* dst)
{
    const uint8_t* src = base + r * img.strideY;
    if (s.grayFirst)
    {
        horizontalGrayFirst(src, rw, s, dst);
        return;
    }
#if defined(__SSE2__)
    if (lanes == kLANES && img.strideC == 1 && img.strideX == img.channels)
    {
        horizontalPackedSSE2(src, static_cast<int64_t>(img.width) * img.channels, rw, s, dst);
        return;
    }
#endif
    horizontalGeneric(src, img.strideC, lanes, rw, s, dst);
}

//! Makes s.rows[0] / s.rows[1] hold source rows i0 / i1, reusing rows computed for the previous output row
//! (consecutive output rows share source rows unless the image shrinks by 2x or more).
void prepareRows(
    const ImageDesc& img, const uint8_t* base, const resize::LinearTap& ty, int32_t lanes, int32_t rw, Scratch& s)
{
    if (s.rowIds[0] != ty.i0 && s.rowIds[1] == ty.i0)
    {
        std::swap(s.rows[0], s.rows[1]);
        std::swap(s.rowIds[0], s.rowIds[1]);
    }
    if (s.rowIds[0] != ty.i0)
    {
        horizontalRow(img, base, ty.i0, lanes, rw, s, s.rows[0].data());
        s.rowIds[0] = ty.i0;
    }
    if (s.rowIds[1] != ty.i1)
    {
        horizontalRow(img, base, ty.i1, lanes, rw, s, s.rows[1].data());
        s.rowIds[1] = ty.i1;
    }
}

void computeTaps(const ImageDesc& img, int32_t rw, int32_t outH, Scratch& s)
{
    const double sx = resize::linearScale(img.width, rw);
    const double sy = resize::linearScale(img.height, outH);
    const auto n = static_cast<size_t>(rw);
    s.xOff0.resize(n);
    s.xOff1.resize(n);
    s.xW0.resize(n);
    s.xW1.resize(n);
    s.xW01.resize(n);
    for (size_t x = 0; x < n; ++x)
    {
        const resize::LinearTap t = resize::linearTap(static_cast<int32_t>(x), sx, img.width, true);
        s.xOff0[x] = t.i0 * img.strideX;
        s.xOff1[x] = t.i1 * img.strideX;
        s.xW0[x] = t.w0;
        s.xW1[x] = t.w1;
        s.xW01[x] = static_cast<int32_t>((static_cast<uint32_t>(t.w0) & 0xffffu) | (static_cast<uint32_t>(t.w1) << 16));
    }
    s.yTaps.resize(static_cast<size_t>(outH));
    for (int32_t y = 0; y < outH; ++y)
    {
        s.yTaps[static_cast<size_t>(y)] = resize::linearTap(y, sy, img.height, false);
    }
}

//! Asks for the source rows of the next output row while this one is computed. Word crops are read once, from
//! DRAM, and a downscale jumps over rows, which the hardware prefetcher does not anticipate; profiling showed the
//! first pixel loads of each row dominating the horizontal pass.
void prefetchRows(const ImageDesc& img, const uint8_t* base, const resize::LinearTap& next, const Scratch& s)
{
#if defined(__SSE2__)
    if (img.strideX != img.channels || img.strideC != 1)
    {
        return;
    }
    const int64_t bytes = static_cast<int64_t>(img.width) * img.channels;
    for (const int32_t r : {next.i0, next.i1})
    {
        if (r == s.rowIds[0] || r == s.rowIds[1])
        {
            continue;
        }
        const char* row = reinterpret_cast<const char*>(base + r * img.strideY);
        for (int64_t b = 0; b < bytes; b += 64)
        {
            _mm_prefetch(row + b, _MM_HINT_T0);
        }
    }
#else
    (void) img;
    (void) base;
    (void) next;
    (void) s;
#endif
}

void resizeOne(
    const ImageDesc& img, const ResizeOutput& out, bool inputIsRgb, float* dst, int32_t& widthOut, Scratch& s)
{
    const int32_t rw = resize::fittedWidth(img.height, img.width, out.height, out.width, out.mode);
    widthOut = rw;
    s.grayFirst = out.channels == 1 && out.mode.grayBeforeResize && img.channels != 1;
    for (int32_t p = 0; p < 3; ++p)
    {
        s.grayChannel[p] = resize::sourceChannel(p, img.channels, inputIsRgb) * img.strideC;
    }
    s.rowIds[0] = s.rowIds[1] = -1;
    // The first output row reads source rows 0 and 1 (or only 0): fetch them while the taps are computed.
    const uint8_t* base = img.data + img.offset;
    prefetchRows(img, base, resize::LinearTap{0, img.height > 1 ? 1 : 0, 0, 0}, s);
    computeTaps(img, rw, out.height, s);
    const int32_t lanes = (img.channels == 1 || s.grayFirst) ? 1 : kLANES;
    const size_t count = static_cast<size_t>(rw) * static_cast<size_t>(lanes);
    for (auto& row : s.rows)
    {
        row.resize(count);
    }
    s.levels.resize(count);

    // Lane feeding each B, G, R output plane.
    int32_t laneOf[3];
    for (int32_t p = 0; p < 3; ++p)
    {
        laneOf[p] = resize::sourceChannel(p, img.channels, inputIsRgb);
    }
    const int64_t plane = static_cast<int64_t>(out.height) * out.width;
    uint8_t* levels = s.levels.data();
    for (int32_t y = 0; y < out.height; ++y)
    {
        const resize::LinearTap ty = s.yTaps[static_cast<size_t>(y)];
        prepareRows(img, base, ty, lanes, rw, s);
        if (y + 1 < out.height)
        {
            prefetchRows(img, base, s.yTaps[static_cast<size_t>(y) + 1], s);
        }
        const int16_t* h0 = s.rows[0].data();
        const int16_t* h1 = s.rows[1].data();
        const auto w0 = static_cast<int16_t>(ty.w0);
        const auto w1 = static_cast<int16_t>(ty.w1);
        if (out.channels == 3)
        {
            float* planes[3];
            for (int32_t p = 0; p < 3; ++p)
            {
                planes[p] = dst + p * plane + static_cast<int64_t>(y) * out.width;
            }
            int32_t done = 0;
#if defined(__SSE2__)
            if (lanes == kLANES)
            {
                done = colourRowSSE2(h0, h1, w0, w1, laneOf, rw, planes);
            }
#endif
            for (int32_t p = 0; p < 3; ++p)
            {
                for (int32_t x = done; x < rw; ++x)
                {
                    const int64_t i = static_cast<int64_t>(x) * lanes + (lanes == 1 ? 0 : laneOf[p]);
                    planes[p][x] = kNORMALIZE.values[resize::verticalBlend(h0[i], h1[i], w0, w1)];
                }
                std::fill(planes[p] + rw, planes[p] + out.width, 0.f);
            }
            continue;
        }
        // Gray output: blend the whole row (contiguous, vectorises on its own), then mix the channels.
        for (size_t i = 0; i < count; ++i)
        {
            levels[i] = resize::verticalBlend(h0[i], h1[i], w0, w1);
        }
        float* row = dst + static_cast<int64_t>(y) * out.width;
        for (int32_t x = 0; x < rw; ++x)
        {
            const uint8_t* px = levels + static_cast<int64_t>(x) * lanes;
            row[x] = lanes == 1 ? kNORMALIZE.values[px[0]]
                                : resize::normalize(resize::grayFromBgr(px[laneOf[0]], px[laneOf[1]], px[laneOf[2]]));
        }
        std::fill(row + rw, row + out.width, 0.f);
    }
}

} // namespace

void validateResizeArgs(const std::vector<ImageDesc>& images, const ResizeOutput& out)
{
    if (images.empty())
    {
        throw std::invalid_argument("expected at least one image, got an empty batch");
    }
    if (out.data == nullptr)
    {
        throw std::invalid_argument("output buffer is null");
    }
    if (out.channels != 1 && out.channels != 3)
    {
        throw std::invalid_argument("output channels must be 1 or 3, got " + std::to_string(out.channels));
    }
    if (out.mode.grayBeforeResize && out.channels != 1)
    {
        throw std::invalid_argument("gray before resize needs a 1-channel output, got " + std::to_string(out.channels));
    }
    if (out.height < 1 || out.width < 1)
    {
        throw std::invalid_argument("output height and width must be >= 1, got " + std::to_string(out.height) + "x"
                                    + std::to_string(out.width));
    }
    for (size_t i = 0; i < images.size(); ++i)
    {
        const ImageDesc& img = images[i];
        const auto where = [i]() {
            return "images[" + std::to_string(i) + "]: ";
        }; // only on error: runs per image
        if (img.data == nullptr && img.height * static_cast<int64_t>(img.width) > 0)
        {
            throw std::invalid_argument(where() + "null data pointer");
        }
        if (img.height < 1 || img.width < 1)
        {
            throw std::invalid_argument(where() + "expected a non-empty image, got " + std::to_string(img.height) + "x"
                                        + std::to_string(img.width));
        }
        if (img.channels != 1 && img.channels != 3 && img.channels != 4)
        {
            throw std::invalid_argument(where() + "expected 1, 3 or 4 channels, got " + std::to_string(img.channels));
        }
    }
}

void resizeNormalizeCPU(
    const std::vector<ImageDesc>& images, const ResizeOutput& out, bool inputIsRgb, int32_t* widths, int32_t numThreads)
{
    const int64_t n = static_cast<int64_t>(images.size());
    const int32_t threads = resolveThreadCount(numThreads, n);
    const int64_t perImage = static_cast<int64_t>(out.channels) * out.height * out.width;
    if (out.mode.pilBicubic)
    {
        std::vector<PilScratch> pilScratch(static_cast<size_t>(threads));
        parallelFor(n, threads, [&](int32_t worker, int64_t i) {
            pilResizeNormalizeOne(images[static_cast<size_t>(i)], out, inputIsRgb, out.data + i * perImage, widths[i],
                pilScratch[static_cast<size_t>(worker)]);
        });
        return;
    }
    std::vector<Scratch> scratch(static_cast<size_t>(threads));
    parallelFor(n, threads, [&](int32_t worker, int64_t i) {
        resizeOne(images[static_cast<size_t>(i)], out, inputIsRgb, out.data + i * perImage, widths[i],
            scratch[static_cast<size_t>(worker)]);
    });
}

} // namespace starnet
