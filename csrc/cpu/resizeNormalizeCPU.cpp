#include "cpu/resizeNormalizeCPU.h"

#include "core/resizeNormalizeImpl.h"
#include "cpu/parallelFor.h"

#include <algorithm>
#include <utility>
#include <stdexcept>
#include <string>

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

//! Per-thread scratch, reused across images so the hot loop never allocates.
struct Scratch
{
    // Horizontal taps as structure-of-arrays with byte offsets premultiplied by the x stride.
    std::vector<int64_t> xOff0;
    std::vector<int64_t> xOff1;
    std::vector<int32_t> xW0;
    std::vector<int32_t> xW1;
    std::vector<resize::LinearTap> yTaps;
    // Horizontally interpolated source rows, planar [plane][x], for the two rows feeding the current output row.
    std::vector<int16_t> rows[2];
    std::vector<uint8_t> levels; // one output row of resized uint8 values
    int32_t rowIds[2]{-1, -1};
};

//! Horizontal pass of one source row for the three B, G, R planes at once, so each tap is loaded once per pixel.
//! Inlined into call sites with constant channel offsets.
inline __attribute__((always_inline)) void horizontalThree(const uint8_t* src, int64_t cB, int64_t cG, int64_t cR,
    int32_t rw, const Scratch& s, int16_t* dst)
{
    const int64_t* off0 = s.xOff0.data();
    const int64_t* off1 = s.xOff1.data();
    const int32_t* w0 = s.xW0.data();
    const int32_t* w1 = s.xW1.data();
    int16_t* hB = dst;
    int16_t* hG = dst + rw;
    int16_t* hR = dst + 2 * static_cast<int64_t>(rw);
    for (int32_t x = 0; x < rw; ++x)
    {
        const resize::LinearTap t{0, 0, w0[x], w1[x]};
        const uint8_t* p0 = src + off0[x];
        const uint8_t* p1 = src + off1[x];
        hB[x] = resize::verticalInput(resize::horizontal(p0[cB], p1[cB], t));
        hG[x] = resize::verticalInput(resize::horizontal(p0[cG], p1[cG], t));
        hR[x] = resize::verticalInput(resize::horizontal(p0[cR], p1[cR], t));
    }
}

//! Horizontal pass of source row `r` for every needed plane, into `dst` ([planes][rw]).
void horizontalRow(const ImageDesc& img, const uint8_t* base, int32_t r, int32_t planes, bool inputIsRgb, int32_t rw,
    const Scratch& s, int16_t* dst)
{
    const int64_t* off0 = s.xOff0.data();
    const int64_t* off1 = s.xOff1.data();
    const int32_t* w0 = s.xW0.data();
    const int32_t* w1 = s.xW1.data();
    if (planes == 3)
    {
        const uint8_t* src = base + r * img.strideY;
        if (img.strideC == 1)
        {
            // Interleaved pixels (every cv2/PIL image): compile-time channel offsets free the registers that the
            // generic loop spills.
            if (inputIsRgb)
            {
                horizontalThree(src, 2, 1, 0, rw, s, dst);
            }
            else
            {
                horizontalThree(src, 0, 1, 2, rw, s, dst);
            }
            return;
        }
        horizontalThree(src, resize::sourceChannel(0, img.channels, inputIsRgb) * img.strideC,
            resize::sourceChannel(1, img.channels, inputIsRgb) * img.strideC,
            resize::sourceChannel(2, img.channels, inputIsRgb) * img.strideC, rw, s, dst);
        return;
    }
    for (int32_t p = 0; p < planes; ++p)
    {
        const int32_t c = resize::sourceChannel(p, img.channels, inputIsRgb);
        const uint8_t* src = base + r * img.strideY + c * img.strideC;
        int16_t* h = dst + static_cast<int64_t>(p) * rw;
        for (int32_t x = 0; x < rw; ++x)
        {
            h[x] = resize::verticalInput(
                resize::horizontal(src[off0[x]], src[off1[x]], resize::LinearTap{0, 0, w0[x], w1[x]}));
        }
    }
}

//! Makes s.rows[0] / s.rows[1] hold source rows i0 / i1, reusing rows computed for the previous output row
//! (consecutive output rows share source rows when upscaling).
void prepareRows(const ImageDesc& img, const uint8_t* base, const resize::LinearTap& ty, int32_t planes,
    bool inputIsRgb, int32_t rw, Scratch& s)
{
    if (s.rowIds[0] != ty.i0 && s.rowIds[1] == ty.i0)
    {
        std::swap(s.rows[0], s.rows[1]);
        std::swap(s.rowIds[0], s.rowIds[1]);
    }
    if (s.rowIds[0] != ty.i0)
    {
        horizontalRow(img, base, ty.i0, planes, inputIsRgb, rw, s, s.rows[0].data());
        s.rowIds[0] = ty.i0;
    }
    if (s.rowIds[1] != ty.i1)
    {
        horizontalRow(img, base, ty.i1, planes, inputIsRgb, rw, s, s.rows[1].data());
        s.rowIds[1] = ty.i1;
    }
}

void resizeOne(const ImageDesc& img, const ResizeOutput& out, bool inputIsRgb, float* dst, int32_t& widthOut,
    Scratch& s)
{
    const int32_t rw = resize::resizedWidth(img.height, img.width, out.height, out.width);
    widthOut = rw;
    const double sx = resize::linearScale(img.width, rw);
    const double sy = resize::linearScale(img.height, out.height);
    const auto n = static_cast<size_t>(rw);
    s.xOff0.resize(n);
    s.xOff1.resize(n);
    s.xW0.resize(n);
    s.xW1.resize(n);
    for (int32_t x = 0; x < rw; ++x)
    {
        const resize::LinearTap t = resize::linearTap(x, sx, img.width, true);
        s.xOff0[static_cast<size_t>(x)] = t.i0 * img.strideX;
        s.xOff1[static_cast<size_t>(x)] = t.i1 * img.strideX;
        s.xW0[static_cast<size_t>(x)] = t.w0;
        s.xW1[static_cast<size_t>(x)] = t.w1;
    }
    s.yTaps.resize(static_cast<size_t>(out.height));
    for (int32_t y = 0; y < out.height; ++y)
    {
        s.yTaps[static_cast<size_t>(y)] = resize::linearTap(y, sy, img.height, false);
    }
    // Gray input needs one plane; everything else needs B, G and R (also for a gray output).
    const int32_t planes = img.channels == 1 ? 1 : 3;
    for (auto& row : s.rows)
    {
        row.resize(static_cast<size_t>(planes) * n);
    }
    s.rowIds[0] = s.rowIds[1] = -1;
    s.levels.resize(n);

    const int64_t plane = static_cast<int64_t>(out.height) * out.width;
    const uint8_t* base = img.data + img.offset;
    for (int32_t y = 0; y < out.height; ++y)
    {
        const resize::LinearTap ty = s.yTaps[static_cast<size_t>(y)];
        prepareRows(img, base, ty, planes, inputIsRgb, rw, s);
        const int16_t* h0 = s.rows[0].data();
        const int16_t* h1 = s.rows[1].data();
        const auto w0 = static_cast<int16_t>(ty.w0);
        const auto w1 = static_cast<int16_t>(ty.w1);
        if (out.channels == 3)
        {
            for (int32_t p = 0; p < 3; ++p)
            {
                const int64_t src = planes == 1 ? 0 : static_cast<int64_t>(p) * rw;
                float* row = dst + p * plane + static_cast<int64_t>(y) * out.width;
                // Two loops: the integer blend vectorises on its own, the table lookup cannot.
                uint8_t* levels = s.levels.data();
                for (int32_t x = 0; x < rw; ++x)
                {
                    levels[x] = resize::verticalBlend(h0[src + x], h1[src + x], w0, w1);
                }
                for (int32_t x = 0; x < rw; ++x)
                {
                    row[x] = kNORMALIZE.values[levels[x]];
                }
                std::fill(row + rw, row + out.width, 0.f);
            }
        }
        else
        {
            float* row = dst + static_cast<int64_t>(y) * out.width;
            if (planes == 1)
            {
                for (int32_t x = 0; x < rw; ++x)
                {
                    row[x] = kNORMALIZE.values[resize::verticalBlend(h0[x], h1[x], w0, w1)];
                }
            }
            else
            {
                for (int32_t x = 0; x < rw; ++x)
                {
                    const uint8_t b = resize::verticalBlend(h0[x], h1[x], w0, w1);
                    const uint8_t g = resize::verticalBlend(h0[rw + x], h1[rw + x], w0, w1);
                    const uint8_t r = resize::verticalBlend(h0[2 * rw + x], h1[2 * rw + x], w0, w1);
                    row[x] = resize::normalize(resize::grayFromBgr(b, g, r));
                }
            }
            std::fill(row + rw, row + out.width, 0.f);
        }
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
    if (out.height < 1 || out.width < 1)
    {
        throw std::invalid_argument("output height and width must be >= 1, got " + std::to_string(out.height) + "x"
            + std::to_string(out.width));
    }
    for (size_t i = 0; i < images.size(); ++i)
    {
        const ImageDesc& img = images[i];
        const std::string where = "images[" + std::to_string(i) + "]: ";
        if (img.data == nullptr && img.height * static_cast<int64_t>(img.width) > 0)
        {
            throw std::invalid_argument(where + "null data pointer");
        }
        if (img.height < 1 || img.width < 1)
        {
            throw std::invalid_argument(where + "expected a non-empty image, got " + std::to_string(img.height) + "x"
                + std::to_string(img.width));
        }
        if (img.channels != 1 && img.channels != 3 && img.channels != 4)
        {
            throw std::invalid_argument(where + "expected 1, 3 or 4 channels, got " + std::to_string(img.channels));
        }
    }
}

void resizeNormalizeCPU(const std::vector<ImageDesc>& images, const ResizeOutput& out, bool inputIsRgb,
    int32_t* widths, int32_t numThreads)
{
    const int64_t n = static_cast<int64_t>(images.size());
    const int32_t threads = resolveThreadCount(numThreads, n);
    std::vector<Scratch> scratch(static_cast<size_t>(threads));
    const int64_t perImage = static_cast<int64_t>(out.channels) * out.height * out.width;
    parallelFor(n, threads, [&](int32_t worker, int64_t i) {
        resizeOne(images[static_cast<size_t>(i)], out, inputIsRgb, out.data + i * perImage, widths[i],
            scratch[static_cast<size_t>(worker)]);
    });
}

} // namespace starnet
