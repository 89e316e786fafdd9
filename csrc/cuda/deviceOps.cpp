#include "cuda/deviceOps.h"

#include "cuda/ctcGreedyDecode.h"
#include "cuda/resizeNormalize.h"
#include "cuda/tpsGridSample.h"

#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace starnet
{
namespace
{

void check(cudaError_t status, const char* what)
{
    if (status != cudaSuccess)
    {
        throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
    }
}

//! Owns one device allocation; freed on scope exit, including when a later CUDA call throws.
class DeviceBuffer
{
public:
    explicit DeviceBuffer(size_t bytes)
    {
        check(cudaMalloc(&mPtr, bytes == 0 ? 1 : bytes), "cudaMalloc");
    }
    ~DeviceBuffer()
    {
        cudaFree(mPtr);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    template <typename T>
    T* as() const
    {
        return static_cast<T*>(mPtr);
    }

private:
    void* mPtr{nullptr};
};

} // namespace

int32_t cudaDeviceCount() noexcept
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess)
    {
        cudaGetLastError(); // clear the (non-sticky) error so later CUDA calls start clean
        return 0;
    }
    return count;
}

void resizeNormalizeDevice(
    const std::vector<ImageDesc>& images, const ResizeOutput& out, bool inputIsRgb, int32_t* widths)
{
    // Pack every (possibly strided) image densely so one upload and one launch serve the whole batch.
    std::vector<ImageDesc> descs(images.size());
    int64_t total = 0;
    for (size_t i = 0; i < images.size(); ++i)
    {
        const ImageDesc& s = images[i];
        descs[i] = ImageDesc{
            nullptr, total, s.height, s.width, s.channels, static_cast<int64_t>(s.width) * s.channels, s.channels, 1};
        total += static_cast<int64_t>(s.height) * s.width * s.channels;
    }
    std::vector<uint8_t> packed(static_cast<size_t>(total));
    for (size_t i = 0; i < images.size(); ++i)
    {
        const ImageDesc& s = images[i];
        uint8_t* dst = packed.data() + descs[i].offset;
        const uint8_t* base = s.data + s.offset;
        for (int32_t y = 0; y < s.height; ++y)
        {
            for (int32_t x = 0; x < s.width; ++x)
            {
                for (int32_t c = 0; c < s.channels; ++c)
                {
                    *dst++ = base[y * s.strideY + x * s.strideX + c * s.strideC];
                }
            }
        }
    }
    const int32_t n = static_cast<int32_t>(images.size());
    const size_t outCount = static_cast<size_t>(n) * out.channels * out.height * out.width;
    DeviceBuffer dImages(packed.size());
    DeviceBuffer dDescs(descs.size() * sizeof(ImageDesc));
    DeviceBuffer dOut(outCount * sizeof(float));
    DeviceBuffer dWidths(static_cast<size_t>(n) * sizeof(int32_t));
    check(cudaMemcpy(dImages.as<void>(), packed.data(), packed.size(), cudaMemcpyHostToDevice), "upload images");
    check(cudaMemcpy(dDescs.as<void>(), descs.data(), descs.size() * sizeof(ImageDesc), cudaMemcpyHostToDevice),
        "upload descriptors");
    check(launchResizeNormalize(dImages.as<uint8_t>(), dDescs.as<ImageDesc>(), n, dOut.as<void>(), false, out.channels,
              out.height, out.width, inputIsRgb, dWidths.as<int32_t>(), nullptr, out.mode),
        "launchResizeNormalize");
    check(cudaMemcpy(out.data, dOut.as<void>(), outCount * sizeof(float), cudaMemcpyDeviceToHost), "download output");
    check(cudaMemcpy(widths, dWidths.as<void>(), static_cast<size_t>(n) * sizeof(int32_t), cudaMemcpyDeviceToHost),
        "download widths");
}

int64_t ctcGreedyDecodeDevice(
    const ScoresView& scores, int32_t blank, int32_t* indices, int32_t* lengths, float* confidences)
{
    const size_t n = static_cast<size_t>(scores.batch);
    const size_t count = n * static_cast<size_t>(scores.steps * scores.classes);
    const size_t bytes = count * (scores.isHalf ? 2 : 4);
    DeviceBuffer dScores(bytes);
    DeviceBuffer dIndices(n * static_cast<size_t>(scores.steps) * sizeof(int32_t));
    DeviceBuffer dLengths(n * sizeof(int32_t));
    DeviceBuffer dConf(n * sizeof(float));
    DeviceBuffer dNan(n * sizeof(int32_t));
    check(cudaMemcpy(dScores.as<void>(), scores.data, bytes, cudaMemcpyHostToDevice), "upload scores");
    check(launchCtcGreedyDecode(dScores.as<void>(), scores.isHalf, static_cast<int32_t>(scores.batch),
              static_cast<int32_t>(scores.steps), static_cast<int32_t>(scores.classes), blank, dIndices.as<int32_t>(),
              dLengths.as<int32_t>(), dConf.as<float>(), dNan.as<int32_t>(), nullptr),
        "launchCtcGreedyDecode");
    std::vector<int32_t> nanFlags(n);
    check(cudaMemcpy(indices, dIndices.as<void>(), n * static_cast<size_t>(scores.steps) * sizeof(int32_t),
              cudaMemcpyDeviceToHost),
        "download indices");
    check(cudaMemcpy(lengths, dLengths.as<void>(), n * sizeof(int32_t), cudaMemcpyDeviceToHost), "download lengths");
    check(cudaMemcpy(confidences, dConf.as<void>(), n * sizeof(float), cudaMemcpyDeviceToHost), "download conf");
    check(cudaMemcpy(nanFlags.data(), dNan.as<void>(), n * sizeof(int32_t), cudaMemcpyDeviceToHost), "download nan");
    for (size_t i = 0; i < n; ++i)
    {
        if (nanFlags[i] != 0)
        {
            return static_cast<int64_t>(i);
        }
    }
    return -1;
}

namespace
{

//! inverseDelta per F, computed once (the plugin does the same at construction).
const tps::InverseDelta& cachedInverseDelta(int32_t numFiducials)
{
    static std::mutex mutex;
    static std::map<int32_t, std::unique_ptr<tps::InverseDelta>> cache;
    const std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[numFiducials];
    if (!slot)
    {
        auto inverse = std::make_unique<tps::InverseDelta>();
        if (!tps::inverseDelta(numFiducials, inverse->values))
        {
            throw std::invalid_argument("fiducials: unsupported number of points " + std::to_string(numFiducials));
        }
        slot = std::move(inverse);
    }
    return *slot;
}

} // namespace

void tpsGridSampleDevice(const TpsShape& shape, const void* image, bool imageHalf, const void* fiducials,
    bool fiducialsHalf, void* out, const float* table)
{
    const size_t n = static_cast<size_t>(shape.batch);
    const size_t imageBytes
        = n * shape.channels * static_cast<size_t>(shape.inHeight) * shape.inWidth * (imageHalf ? 2 : 4);
    const size_t fidBytes = n * static_cast<size_t>(shape.numFiducials) * 2 * (fiducialsHalf ? 2 : 4);
    const size_t outBytes
        = n * shape.channels * static_cast<size_t>(shape.outHeight) * shape.outWidth * (imageHalf ? 2 : 4);
    if (n == 0)
    {
        return;
    }
    const tps::InverseDelta& inverse = cachedInverseDelta(shape.numFiducials);
    DeviceBuffer dImage(imageBytes);
    DeviceBuffer dFid(fidBytes);
    DeviceBuffer dOut(outBytes);
    check(cudaMemcpy(dImage.as<void>(), image, imageBytes, cudaMemcpyHostToDevice), "upload image");
    check(cudaMemcpy(dFid.as<void>(), fiducials, fidBytes, cudaMemcpyHostToDevice), "upload fiducials");
    // Table mode reads the rows from a device copy of `table`; otherwise they are evaluated from inv(delta_C).
    std::unique_ptr<DeviceBuffer> dTable;
    if (table != nullptr)
    {
        const size_t tableBytes
            = static_cast<size_t>(shape.outHeight) * shape.outWidth * static_cast<size_t>(shape.numFiducials) * 4;
        dTable = std::make_unique<DeviceBuffer>(tableBytes);
        check(cudaMemcpy(dTable->as<void>(), table, tableBytes, cudaMemcpyHostToDevice), "upload table");
    }
    check(dTable ? launchTpsGridSampleTable(shape, dTable->as<float>(), dImage.as<void>(), imageHalf,
                       dFid.as<void>(), fiducialsHalf, dOut.as<void>(), nullptr)
                 : launchTpsGridSample(shape, inverse, dImage.as<void>(), imageHalf, dFid.as<void>(), fiducialsHalf,
                       dOut.as<void>(), nullptr),
        "launchTpsGridSample");
    check(cudaMemcpy(out, dOut.as<void>(), outBytes, cudaMemcpyDeviceToHost), "download output");
}

void launchTpsGridSampleRaw(const TpsShape& shape, uintptr_t image, bool imageHalf, uintptr_t fiducials,
    bool fiducialsHalf, uintptr_t out, uintptr_t stream, int32_t samplesPerBlock, uintptr_t table)
{
    const void* dImage = reinterpret_cast<const void*>(image);
    const void* dFid = reinterpret_cast<const void*>(fiducials);
    void* dOut = reinterpret_cast<void*>(out);
    const auto s = reinterpret_cast<cudaStream_t>(stream);
    check(table != 0 ? launchTpsGridSampleTable(shape, reinterpret_cast<const float*>(table), dImage, imageHalf, dFid,
                           fiducialsHalf, dOut, s, samplesPerBlock)
                     : launchTpsGridSample(shape, cachedInverseDelta(shape.numFiducials), dImage, imageHalf, dFid,
                           fiducialsHalf, dOut, s, samplesPerBlock),
        "launchTpsGridSample");
}

void launchCtcGreedyDecodeRaw(uintptr_t scores, bool isHalf, int32_t batch, int32_t steps, int32_t classes,
    int32_t blank, uintptr_t indices, uintptr_t lengths, uintptr_t confidences, uintptr_t nanFlags,
    uintptr_t stream)
{
    check(launchCtcGreedyDecode(reinterpret_cast<const void*>(scores), isHalf, batch, steps, classes, blank,
              reinterpret_cast<int32_t*>(indices), reinterpret_cast<int32_t*>(lengths),
              reinterpret_cast<float*>(confidences), reinterpret_cast<int32_t*>(nanFlags),
              reinterpret_cast<cudaStream_t>(stream)),
        "launchCtcGreedyDecode");
}

void launchResizeNormalizeRaw(uintptr_t images, uintptr_t descs, int32_t batch, uintptr_t out, bool outHalf,
    int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, uintptr_t widths, uintptr_t stream,
    ResizeMode mode, ResizeTuning tuning)
{
    check(launchResizeNormalize(reinterpret_cast<const uint8_t*>(images), reinterpret_cast<const ImageDesc*>(descs),
              batch, reinterpret_cast<void*>(out), outHalf, outChannels, outH, outW, inputIsRgb,
              reinterpret_cast<int32_t*>(widths), reinterpret_cast<cudaStream_t>(stream), mode, tuning),
        "launchResizeNormalize");
}

} // namespace starnet
