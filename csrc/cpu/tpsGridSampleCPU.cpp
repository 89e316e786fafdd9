#include "cpu/tpsGridSampleCPU.h"

#include "core/half.h"
#include "cpu/parallelFor.h"

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

namespace starnet
{
namespace
{

float load(const float* p, int64_t i)
{
    return p[i];
}

float load(const uint16_t* p, int64_t i)
{
    return halfBitsToFloat(p[i]);
}

void store(float* p, int64_t i, float v)
{
    p[i] = v;
}

void store(uint16_t* p, int64_t i, float v)
{
    p[i] = floatToHalfBits(v);
}

template <typename TImage, typename TFid>
void sampleOne(const TpsShape& s, const float* matrix, const TImage* image, const TFid* fiducials, TImage* out,
    int64_t n)
{
    const int32_t f = s.numFiducials;
    const int64_t inPlane = static_cast<int64_t>(s.inHeight) * s.inWidth;
    const int64_t outPlane = static_cast<int64_t>(s.outHeight) * s.outWidth;
    float cx[tps::kMAX_FIDUCIALS];
    float cy[tps::kMAX_FIDUCIALS];
    for (int32_t k = 0; k < f; ++k)
    {
        cx[k] = load(fiducials, (n * f + k) * 2);
        cy[k] = load(fiducials, (n * f + k) * 2 + 1);
    }
    const TImage* src = image + n * s.channels * inPlane;
    TImage* dst = out + n * s.channels * outPlane;
    for (int64_t p = 0; p < outPlane; ++p)
    {
        const float* row = matrix + p * f;
        float gx = 0.f;
        float gy = 0.f;
        for (int32_t k = 0; k < f; ++k)
        {
            gx = tps::gridStep<std::is_same<TImage, uint16_t>::value>(gx, row[k], cx[k]);
            gy = tps::gridStep<std::is_same<TImage, uint16_t>::value>(gy, row[k], cy[k]);
        }
        const tps::BilinearTaps t = tps::bilinearTaps(gx, gy, s.inHeight, s.inWidth, s.alignCorners, s.padding);
        for (int32_t c = 0; c < s.channels; ++c)
        {
            const TImage* plane = src + c * inPlane;
            float v = 0.f;
            for (int32_t j = 0; j < 4; ++j)
            {
                v += t.weight[j] * load(plane, t.offset[j]);
            }
            store(dst, c * outPlane + p, v);
        }
    }
}

} // namespace

void validateTpsShape(const TpsShape& s)
{
    auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
    if (s.numFiducials < tps::kMIN_FIDUCIALS || s.numFiducials > tps::kMAX_FIDUCIALS || s.numFiducials % 2 != 0)
    {
        fail("fiducials: expected an even number of points in [" + std::to_string(tps::kMIN_FIDUCIALS) + ", "
            + std::to_string(tps::kMAX_FIDUCIALS) + "], got " + std::to_string(s.numFiducials));
    }
    if (s.batch < 0 || s.channels < 1 || s.inHeight < 1 || s.inWidth < 1)
    {
        fail("image: expected a non-empty [N, C, H, W] tensor");
    }
    if (s.outHeight < 1 || s.outWidth < 1
        || static_cast<int64_t>(s.outHeight) * s.outWidth > static_cast<int64_t>(INT32_MAX)
        || static_cast<int64_t>(s.inHeight) * s.inWidth > static_cast<int64_t>(INT32_MAX))
    {
        fail("out_height/out_width: expected positive sizes with fewer than 2^31 pixels per plane, got "
            + std::to_string(s.outHeight) + "x" + std::to_string(s.outWidth));
    }
    if (s.padding != tps::Padding::kZEROS && s.padding != tps::Padding::kBORDER)
    {
        fail("padding_mode: expected 'zeros' or 'border'");
    }
}

const std::vector<float>& tpsGridMatrix(int32_t numFiducials, int32_t outHeight, int32_t outWidth)
{
    static std::mutex mutex;
    static std::map<std::tuple<int32_t, int32_t, int32_t>, std::unique_ptr<std::vector<float>>> cache;
    const std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[std::make_tuple(numFiducials, outHeight, outWidth)];
    if (!slot)
    {
        std::vector<double> inv(static_cast<size_t>(tps::inverseDeltaSize(numFiducials)));
        if (!tps::inverseDelta(numFiducials, inv.data()))
        {
            throw std::invalid_argument("fiducials: unsupported number of points " + std::to_string(numFiducials));
        }
        auto matrix = std::make_unique<std::vector<float>>(
            static_cast<size_t>(outHeight) * outWidth * static_cast<size_t>(numFiducials));
        for (int32_t y = 0; y < outHeight; ++y)
        {
            const double gy = tps::outputCoordinate(y, outHeight);
            for (int32_t x = 0; x < outWidth; ++x)
            {
                const int64_t p = static_cast<int64_t>(y) * outWidth + x;
                tps::gridRow(inv.data(), numFiducials, tps::outputCoordinate(x, outWidth), gy,
                    matrix->data() + p * numFiducials);
            }
        }
        slot = std::move(matrix);
    }
    return *slot;
}

void tpsGridSampleCPU(const TpsShape& s, const void* image, bool imageHalf, const void* fiducials,
    bool fiducialsHalf, void* out, int32_t numThreads, const float* table)
{
    const float* matrix = table != nullptr ? table : tpsGridMatrix(s.numFiducials, s.outHeight, s.outWidth).data();
    parallelFor(s.batch, numThreads, [&](int32_t, int64_t n) {
        if (imageHalf && fiducialsHalf)
        {
            sampleOne(s, matrix, static_cast<const uint16_t*>(image), static_cast<const uint16_t*>(fiducials),
                static_cast<uint16_t*>(out), n);
        }
        else if (imageHalf)
        {
            sampleOne(s, matrix, static_cast<const uint16_t*>(image), static_cast<const float*>(fiducials),
                static_cast<uint16_t*>(out), n);
        }
        else if (fiducialsHalf)
        {
            sampleOne(s, matrix, static_cast<const float*>(image), static_cast<const uint16_t*>(fiducials),
                static_cast<float*>(out), n);
        }
        else
        {
            sampleOne(s, matrix, static_cast<const float*>(image), static_cast<const float*>(fiducials),
                static_cast<float*>(out), n);
        }
    });
}

} // namespace starnet
