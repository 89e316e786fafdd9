#include "cpu/resizeNormalizeCPU.h"

#include "core/resizeNormalizeImpl.h"
#include "cpu/parallelFor.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

namespace starnet
{
namespace
{

//! 256-entry table of normalize(v): the per-element division is the most expensive part of the inner loop.
std::array<float, 256> makeNormalizeTable()
{
    std::array<float, 256> table{};
    for (int v = 0; v < 256; ++v)
    {
        table[static_cast<size_t>(v)] = resize::normalize(static_cast<float>(v));
    }
    return table;
}

const std::array<float, 256> kNORMALIZE = makeNormalizeTable();

//! Per-thread scratch: taps are recomputed per image but the allocation is reused.
struct Scratch
{
    std::vector<resize::LinearTap> xTaps;
    std::vector<resize::LinearTap> yTaps;
};

void resizeOne(const ImageDesc& img, const ResizeOutput& out, bool inputIsRgb, float* dst, int32_t& widthOut,
    Scratch& scratch)
{
    const int32_t rw = resize::resizedWidth(img.height, img.width, out.height, out.width);
    widthOut = rw;
    const double sx = resize::linearScale(img.width, rw);
    const double sy = resize::linearScale(img.height, out.height);
    scratch.xTaps.resize(static_cast<size_t>(rw));
    scratch.yTaps.resize(static_cast<size_t>(out.height));
    for (int32_t x = 0; x < rw; ++x)
    {
        scratch.xTaps[static_cast<size_t>(x)] = resize::linearTap(x, sx, img.width, true);
    }
    for (int32_t y = 0; y < out.height; ++y)
    {
        scratch.yTaps[static_cast<size_t>(y)] = resize::linearTap(y, sy, img.height, false);
    }
    const int64_t plane = static_cast<int64_t>(out.height) * out.width;
    const uint8_t* base = img.data + img.offset;
    for (int32_t y = 0; y < out.height; ++y)
    {
        const resize::LinearTap& ty = scratch.yTaps[static_cast<size_t>(y)];
        if (out.channels == 3)
        {
            for (int32_t p = 0; p < 3; ++p)
            {
                const int32_t c = resize::sourceChannel(p, img.channels, inputIsRgb);
                float* row = dst + p * plane + static_cast<int64_t>(y) * out.width;
                for (int32_t x = 0; x < rw; ++x)
                {
                    const uint8_t v = resize::resizedPixel(
                        base, img.strideY, img.strideX, img.strideC, ty, scratch.xTaps[static_cast<size_t>(x)], c);
                    row[x] = kNORMALIZE[v];
                }
                std::fill(row + rw, row + out.width, 0.f);
            }
        }
        else
        {
            float* row = dst + static_cast<int64_t>(y) * out.width;
            for (int32_t x = 0; x < rw; ++x)
            {
                const resize::LinearTap& tx = scratch.xTaps[static_cast<size_t>(x)];
                if (img.channels == 1)
                {
                    row[x] = kNORMALIZE[resize::resizedPixel(base, img.strideY, img.strideX, img.strideC, ty, tx, 0)];
                    continue;
                }
                uint8_t bgr[3];
                for (int32_t p = 0; p < 3; ++p)
                {
                    const int32_t c = resize::sourceChannel(p, img.channels, inputIsRgb);
                    bgr[p] = resize::resizedPixel(base, img.strideY, img.strideX, img.strideC, ty, tx, c);
                }
                row[x] = resize::normalize(resize::grayFromBgr(bgr[0], bgr[1], bgr[2]));
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
