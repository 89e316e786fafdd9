#include "cpu/pilResizeCPU.h"

#include "core/pilResampleImpl.h"
#include "core/resizeNormalizeImpl.h"

#include <algorithm>

namespace starnet
{
namespace
{

void computeWindows(int32_t inSize, int32_t outSize, std::vector<int32_t>& first, std::vector<int32_t>& count,
    std::vector<int32_t>& start, std::vector<int32_t>& coef)
{
    const pil::Axis a = pil::axis(inSize, outSize);
    const auto n = static_cast<size_t>(outSize);
    first.resize(n);
    count.resize(n);
    start.resize(n);
    coef.clear();
    for (int32_t o = 0; o < outSize; ++o)
    {
        const pil::Window w = pil::window(a, o);
        first[static_cast<size_t>(o)] = w.first;
        count[static_cast<size_t>(o)] = w.count;
        start[static_cast<size_t>(o)] = static_cast<int32_t>(coef.size());
        for (int32_t j = 0; j < w.count; ++j)
        {
            coef.push_back(pil::coefficient(w, j));
        }
    }
}

} // namespace

void pilResizeNormalizeOne(
    const ImageDesc& img, const ResizeOutput& out, bool inputIsRgb, float* dst, int32_t& widthOut, PilScratch& s)
{
    const int32_t rw = resize::fittedWidth(img.height, img.width, out.height, out.width, out.mode);
    widthOut = rw;
    computeWindows(img.width, rw, s.xFirst, s.xCount, s.xStart, s.xCoef);
    computeWindows(img.height, out.height, s.yFirst, s.yCount, s.yStart, s.yCoef);
    const bool grayFirst = out.channels == 1 && out.mode.grayBeforeResize && img.channels != 1;
    const int32_t planes = (img.channels == 1 || grayFirst) ? 1 : 3;
    int64_t channel[3];
    for (int32_t p = 0; p < 3; ++p)
    {
        channel[p] = resize::sourceChannel(p, img.channels, inputIsRgb) * img.strideC;
    }
    const uint8_t* base = img.data + img.offset;
    // Source level of plane p at (row, column): PIL's gray of the pixel, or one of its channels.
    const auto level = [&](int32_t row, int32_t column, int32_t p) -> int32_t {
        const uint8_t* px = base + row * img.strideY + column * img.strideX;
        return grayFirst ? resize::pilGray(px[channel[0]], px[channel[1]], px[channel[2]]) : px[channel[p]];
    };
    const int64_t plane = static_cast<int64_t>(out.height) * out.width;
    // Both passes, in Pillow's order, into s.levels ([plane][y][x], uint8 like Pillow's images).
    s.levels.resize(static_cast<size_t>(planes) * out.height * rw);
    const int64_t levelPlane = static_cast<int64_t>(out.height) * rw;
    if (pil::verticalFirst(img.width, img.height, rw, out.height))
    {
        const int64_t tmpPlane = static_cast<int64_t>(out.height) * img.width;
        s.rows.resize(static_cast<size_t>(planes * tmpPlane));
        for (int32_t y = 0; y < out.height; ++y)
        {
            const int32_t* c = s.yCoef.data() + s.yStart[static_cast<size_t>(y)];
            const int32_t first = s.yFirst[static_cast<size_t>(y)];
            const int32_t n = s.yCount[static_cast<size_t>(y)];
            for (int32_t p = 0; p < planes; ++p)
            {
                uint8_t* row = s.rows.data() + p * tmpPlane + static_cast<int64_t>(y) * img.width;
                for (int32_t column = 0; column < img.width; ++column)
                {
                    int32_t acc = pil::kROUND;
                    for (int32_t j = 0; j < n; ++j)
                    {
                        acc += level(first + j, column, p) * c[j];
                    }
                    row[column] = pil::clip8(acc);
                }
            }
        }
        for (int32_t p = 0; p < planes; ++p)
        {
            for (int32_t y = 0; y < out.height; ++y)
            {
                const uint8_t* row = s.rows.data() + p * tmpPlane + static_cast<int64_t>(y) * img.width;
                uint8_t* dstRow = s.levels.data() + p * levelPlane + static_cast<int64_t>(y) * rw;
                for (int32_t x = 0; x < rw; ++x)
                {
                    const int32_t* c = s.xCoef.data() + s.xStart[static_cast<size_t>(x)];
                    const uint8_t* px = row + s.xFirst[static_cast<size_t>(x)];
                    int32_t acc = pil::kROUND;
                    for (int32_t j = 0, n = s.xCount[static_cast<size_t>(x)]; j < n; ++j)
                    {
                        acc += px[j] * c[j];
                    }
                    dstRow[x] = pil::clip8(acc);
                }
            }
        }
    }
    else
    {
        // Horizontal pass over the source rows the vertical windows use (Pillow's ybox_first..ybox_last).
        const int32_t y0 = s.yFirst.front();
        const int32_t y1 = s.yFirst.back() + s.yCount.back();
        const int64_t tmpPlane = static_cast<int64_t>(y1 - y0) * rw;
        s.rows.resize(static_cast<size_t>(planes * tmpPlane));
        for (int32_t r = y0; r < y1; ++r)
        {
            for (int32_t p = 0; p < planes; ++p)
            {
                uint8_t* row = s.rows.data() + p * tmpPlane + static_cast<int64_t>(r - y0) * rw;
                for (int32_t x = 0; x < rw; ++x)
                {
                    const int32_t* c = s.xCoef.data() + s.xStart[static_cast<size_t>(x)];
                    const int32_t first = s.xFirst[static_cast<size_t>(x)];
                    int32_t acc = pil::kROUND;
                    for (int32_t j = 0, n = s.xCount[static_cast<size_t>(x)]; j < n; ++j)
                    {
                        acc += level(r, first + j, p) * c[j];
                    }
                    row[x] = pil::clip8(acc);
                }
            }
        }
        for (int32_t p = 0; p < planes; ++p)
        {
            for (int32_t y = 0; y < out.height; ++y)
            {
                const int32_t* c = s.yCoef.data() + s.yStart[static_cast<size_t>(y)];
                const uint8_t* column = s.rows.data() + p * tmpPlane + static_cast<int64_t>(s.yFirst[y] - y0) * rw;
                uint8_t* dstRow = s.levels.data() + p * levelPlane + static_cast<int64_t>(y) * rw;
                for (int32_t x = 0; x < rw; ++x)
                {
                    int32_t acc = pil::kROUND;
                    for (int32_t j = 0, n = s.yCount[static_cast<size_t>(y)]; j < n; ++j)
                    {
                        acc += column[static_cast<int64_t>(j) * rw + x] * c[j];
                    }
                    dstRow[x] = pil::clip8(acc);
                }
            }
        }
    }
    // Normalisation and the B/G/R (or gray) planes.
    for (int32_t y = 0; y < out.height; ++y)
    {
        float* line = dst + static_cast<int64_t>(y) * out.width;
        for (int32_t x = 0; x < rw; ++x)
        {
            uint8_t v[3];
            for (int32_t p = 0; p < 3; ++p)
            {
                const int64_t at = (p < planes ? p : 0) * levelPlane + static_cast<int64_t>(y) * rw + x;
                v[p] = s.levels[static_cast<size_t>(at)];
            }
            if (out.channels == 3)
            {
                for (int32_t p = 0; p < 3; ++p)
                {
                    line[p * plane + x] = resize::normalize(static_cast<float>(v[p]));
                }
            }
            else
            {
                line[x] = planes == 1 ? resize::normalize(static_cast<float>(v[0]))
                                      : resize::normalize(resize::grayFromBgr(v[0], v[1], v[2]));
            }
        }
        for (int32_t p = 0; p < out.channels; ++p)
        {
            std::fill(line + p * plane + rw, line + p * plane + out.width, 0.f);
        }
    }
}

} // namespace starnet
