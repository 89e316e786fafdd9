// Runs every CUDA kernel's own source on the CPU (cuda_emu.h) against its CPU
// twin over random shapes, dtypes and launch tunings, with poisoned outputs;
// prints one line per kernel and "FAIL ..." lines, exits 1 on any failure.
// Built and run by tests/test_kernels_emulated.py (tests/emu/build.py). Usage:
// kernels_emu [seed] [trials]
#include "cuda/ctcGreedyDecode.h"
#include "cuda/resizeNormalize.h"
#include "cuda/tpsGridSample.h"

#include "cpu/ctcGreedyDecodeCPU.h"
#include "cpu/resizeNormalizeCPU.h"
#include "cpu/tpsGridSampleCPU.h"

#include <cuda_fp16.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace starnet;

namespace
{

int gFailures = 0;
int gChecks = 0;

void report(bool ok, const std::string& what)
{
    ++gChecks;
    if (!ok)
    {
        ++gFailures;
        std::printf("FAIL %s\n", what.c_str());
    }
}

float halfRound(float v)
{
    return __half2float(__float2half_rn(v));
}

//! Largest |got - expected| (NaN where either is NaN and the other is not:
//! infinity).
template <typename T>
double maxError(const std::vector<T>& got, const std::vector<float>& expected, bool half)
{
    double err = 0.0;
    for (size_t k = 0; k < expected.size(); ++k)
    {
        float g;
        if constexpr (std::is_same_v<T, __half>)
        {
            g = __half2float(got[k]);
        }
        else
        {
            g = static_cast<float>(got[k]);
        }
        const float e = half ? halfRound(expected[k]) : expected[k];
        if (std::isnan(g) != std::isnan(e))
        {
            return INFINITY;
        }
        if (!std::isnan(g))
        {
            err = std::max(err, static_cast<double>(std::fabs(g - e)));
        }
    }
    return err;
}

//! One batch of random images through the kernel (every tuning the mode has) and the CPU twin.
void resizeCase(
    std::mt19937& rng, int n, int outC, int outH, int outW, ResizeMode mode, int minH, int maxH, int minW, int maxW)
{
    std::vector<uint8_t> packed;
    std::vector<ImageDesc> descs;
    for (int i = 0; i < n; ++i)
    {
        const int h = minH + static_cast<int>(rng() % (maxH - minH + 1));
        const int w = minW + static_cast<int>(rng() % (maxW - minW + 1));
        const int c = rng() % 3 == 0 ? 1 : (rng() % 4 == 0 ? 4 : 3);
        // Interleaved (HWC, every packer's layout), or now and then planar (CHW: a strided device tensor's view,
        // the kernels' run-time channel-offset path).
        const bool planar = c > 1 && rng() % 4 == 0;
        const auto offset = static_cast<int64_t>(packed.size());
        descs.push_back(planar ? ImageDesc{nullptr, offset, h, w, c, w, 1, static_cast<int64_t>(h) * w}
                               : ImageDesc{nullptr, offset, h, w, c, static_cast<int64_t>(w) * c, c, 1});
        for (int k = 0; k < h * w * c; ++k)
        {
            packed.push_back(static_cast<uint8_t>(rng()));
        }
    }
    std::vector<ImageDesc> host = descs;
    for (auto& d : host)
    {
        d.data = packed.data() + d.offset;
        d.offset = 0;
    }
    const size_t count = static_cast<size_t>(n) * outC * outH * outW;
    std::vector<float> expected(count);
    std::vector<int32_t> expectedWidths(n);
    const bool rgb = rng() % 2;
    resizeNormalizeCPU(host, ResizeOutput{expected.data(), outC, outH, outW, mode}, rgb, expectedWidths.data(), 1);
    const int bandChoices[] = {0, 1, 2, 3, 7, 1000};
    // The staged form sizes its buffer from the multiprocessor's shared memory: an sm_90-like one (most bands' source
    // rows fit) or a Turing-like one (64 KB, 1024 threads: small buffers, many bands fall back to gathers).
    const bool turing = rng() % 3 == 0;
    emu::state().sharedPerSm = turing ? 65536 : 233472;
    emu::state().threadsPerSm = turing ? 1024 : 2048;
    for (int half = 0; half < 2; ++half)
    {
        for (int bands : bandChoices)
        {
            for (int tuning = 0; tuning < 6; ++tuning)
            {
                const int pixels = tuning % 3;
                const int staging = tuning < 3 ? kSTAGING_DEFAULT : kSTAGING_ON;
                if (mode.pilBicubic && (bands != 0 || pixels != 0 || staging != kSTAGING_DEFAULT))
                {
                    continue; // the PIL path has no tuning
                }
                std::vector<float> got(count, NAN);
                std::vector<__half> gotHalf(count, __float2half(NAN));
                std::vector<int32_t> widths(n, -5);
                const cudaError_t e = launchResizeNormalize(packed.data(), descs.data(), n,
                    half ? static_cast<void*>(gotHalf.data()) : got.data(), half, outC, outH, outW, rgb, widths.data(),
                    nullptr, mode, ResizeTuning{bands, pixels, staging});
                const double err = half ? maxError(gotHalf, expected, true) : maxError(got, expected, false);
                const bool ok = e == cudaSuccess && err == 0.0 && widths == expectedWidths;
                report(ok, "resize_normalize N" + std::to_string(n) + " " + std::to_string(outC) + "x"
                               + std::to_string(outH) + "x" + std::to_string(outW) + " stretch "
                               + std::to_string(mode.stretch) + " grayFirst " + std::to_string(mode.grayBeforeResize)
                               + " pil " + std::to_string(mode.pilBicubic) + " half " + std::to_string(half) + " bands "
                               + std::to_string(bands) + " pixels " + std::to_string(pixels) + " staging "
                               + std::to_string(staging) + (turing ? " turing" : "") + " error " + std::to_string(err)
                               + " rc " + std::to_string(static_cast<int>(e)));
            }
        }
    }
}

void checkResize(std::mt19937& rng, int trials)
{
    for (int trial = 0; trial < trials; ++trial)
    {
        // Bilinear (with every band / pixel tuning), then PIL bicubic, at the model's size or a random one.
        for (const bool pil : {false, true})
        {
            const bool model = trial % 3 == 0;
            const int outH = model ? 32 : 1 + static_cast<int>(rng() % 40);
            const int outW = model ? 100 : 1 + static_cast<int>(rng() % 300);
            const int outC = rng() % 2 ? 3 : 1;
            ResizeMode mode;
            mode.stretch = rng() % 2 == 0;
            mode.grayBeforeResize = outC == 1 && rng() % 2;
            mode.pilBicubic = pil;
            resizeCase(rng, 1 + static_cast<int>(rng() % 5), outC, outH, outW, mode, 1, 70, 1, 400);
        }
    }
    // PIL's corners: the vertical pass first (the height shrinks most), and rows or columns whose first-pass values
    // overflow the kernel's staging (its direct per-pixel fallback), in both pass orders, for both plane counts.
    const struct
    {
        int outH;
        int outW;
        int minH;
        int maxH;
        int minW;
        int maxW;
    } corners[] = {
        {32, 100, 300, 400, 90, 120}, // vertical first, staged
        {4, 300, 100, 120, 400, 450}, // horizontal first, each row's window over the staging: fallback
        {40, 3, 700, 760, 300, 320},  // vertical first, each column's window over the staging (3 planes): fallback
        {24, 8, 20, 40, 300, 900},    // horizontal first, wide windows, staged
    };
    for (const auto& c : corners)
    {
        for (const int outC : {1, 3})
        {
            ResizeMode mode;
            mode.stretch = true;
            mode.pilBicubic = true;
            mode.grayBeforeResize = outC == 1 && rng() % 2;
            resizeCase(rng, 2, outC, c.outH, c.outW, mode, c.minH, c.maxH, c.minW, c.maxW);
        }
    }
    // A bad tuning is refused, not run.
    std::vector<uint8_t> pixel(3, 7);
    ImageDesc d{nullptr, 0, 1, 1, 3, 3, 3, 1};
    std::vector<float> out(3 * 32 * 100);
    int32_t width = 0;
    report(launchResizeNormalize(
               pixel.data(), &d, 1, out.data(), false, 3, 32, 100, false, &width, nullptr, {}, ResizeTuning{0, 3})
               == cudaErrorInvalidValue,
        "resize_normalize pixelsPerThread 3 refused");
    report(launchResizeNormalize(pixel.data(), &d, 1, out.data(), false, 3, 32, 100, false, &width, nullptr, {},
               ResizeTuning{0, 0, kSTAGING_ON + 1})
            == cudaErrorInvalidValue,
        "resize_normalize sourceStaging 3 refused");
}

void checkTps(std::mt19937& rng, int trials)
{
    std::uniform_real_distribution<float> unit(-1.f, 1.f);
    for (int trial = 0; trial < trials; ++trial)
    {
        TpsShape s;
        // Every third trial is a model's shape: STAR-Net's 3 channels or DTRB's gray 1, with more samples than a
        // block has warps (8) every other time, so a warp walks several samples of its chunk.
        const bool model = trial % 3 == 0;
        const int modelCase = trial / 3;
        s.batch = model ? ((modelCase / 2) % 2 == 0 ? 9 + rng() % 12 : 1 + rng() % 6) : 1 + rng() % 12;
        s.channels = model ? (modelCase % 2 == 0 ? 3 : 1) : 1 + static_cast<int32_t>(rng() % 4);
        s.inHeight = model ? 32 : 1 + static_cast<int32_t>(rng() % 30);
        s.inWidth = model ? 100 : 1 + static_cast<int32_t>(rng() % 80);
        s.numFiducials = model ? 20 : 4 + 2 * static_cast<int32_t>(rng() % 15);
        s.outHeight = model ? 32 : 1 + static_cast<int32_t>(rng() % 20);
        s.outWidth = model ? 100 : 1 + static_cast<int32_t>(rng() % 70);
        s.alignCorners = rng() % 2;
        s.padding = rng() % 2 ? tps::Padding::kZEROS : tps::Padding::kBORDER;
        validateTpsShape(s);
        const size_t inCount = static_cast<size_t>(s.batch) * s.channels * s.inHeight * s.inWidth;
        const size_t fidCount = static_cast<size_t>(s.batch) * s.numFiducials * 2;
        const size_t outCount = static_cast<size_t>(s.batch) * s.channels * s.outHeight * s.outWidth;
        const size_t pixels = static_cast<size_t>(s.outHeight) * s.outWidth;
        std::vector<float> image(inCount);
        std::vector<float> fid(fidCount);
        for (auto& v : image)
        {
            v = unit(rng);
        }
        for (auto& v : fid)
        {
            v = 1.1f * unit(rng);
        }
        std::vector<float> table(pixels * s.numFiducials);
        for (auto& v : table)
        {
            v = 0.3f * unit(rng);
        }
        std::vector<__half> imageHalf(inCount);
        std::vector<__half> fidHalf(fidCount);
        for (size_t k = 0; k < inCount; ++k)
        {
            imageHalf[k] = __float2half_rn(image[k]);
        }
        for (size_t k = 0; k < fidCount; ++k)
        {
            fidHalf[k] = __float2half_rn(fid[k]);
        }
        tps::InverseDelta inverse;
        tps::inverseDelta(s.numFiducials, inverse.values);
        const std::vector<float>& starnet = tpsGridMatrix(s.numFiducials, s.outHeight, s.outWidth);
        for (int dtypes = 0; dtypes < 4; ++dtypes)
        {
            const bool imgHalf = dtypes & 1;
            const bool fHalf = dtypes & 2;
            const void* img = imgHalf ? static_cast<const void*>(imageHalf.data()) : image.data();
            const void* f = fHalf ? static_cast<const void*>(fidHalf.data()) : fid.data();
            // Expected: the CPU twin with STAR-Net's matrix (on the fly, and table
            // mode given that matrix) and with the random table.
            for (int variant = 0; variant < 3; ++variant)
            {
                const float* cpuTable = variant == 2 ? table.data() : nullptr;
                std::vector<float> expectedFloat(outCount);
                std::vector<__half> expectedHalf(outCount);
                tpsGridSampleCPU(s, img, imgHalf, f, fHalf,
                    imgHalf ? static_cast<void*>(expectedHalf.data()) : expectedFloat.data(), 1, cpuTable);
                if (imgHalf)
                {
                    for (size_t k = 0; k < outCount; ++k)
                    {
                        expectedFloat[k] = __half2float(expectedHalf[k]);
                    }
                }
                for (int32_t perBlock : {0, 5, 96})
                {
                    std::vector<float> got(outCount, NAN);
                    std::vector<__half> gotHalf(outCount, __float2half(NAN));
                    void* out = imgHalf ? static_cast<void*>(gotHalf.data()) : got.data();
                    const cudaError_t e =
                        variant == 0 ? launchTpsGridSample(s, inverse, img, imgHalf, f, fHalf, out, nullptr, perBlock)
                                     : launchTpsGridSampleTable(s, variant == 1 ? starnet.data() : table.data(), img,
                                           imgHalf, f, fHalf, out, nullptr, perBlock);
                    const double err =
                        imgHalf ? maxError(gotHalf, expectedFloat, false) : maxError(got, expectedFloat, false);
                    const double tolerance = imgHalf ? 1e-3 : 1e-6;
                    report(e == cudaSuccess && err <= tolerance,
                        std::string("tps_grid_sample ")
                            + (variant == 0 ? "on the fly" : (variant == 1 ? "table STAR-Net" : "table random")) + " N"
                            + std::to_string(s.batch) + " C" + std::to_string(s.channels) + " "
                            + std::to_string(s.inHeight) + "x" + std::to_string(s.inWidth) + "->"
                            + std::to_string(s.outHeight) + "x" + std::to_string(s.outWidth) + " F"
                            + std::to_string(s.numFiducials) + " half " + std::to_string(imgHalf) + "/"
                            + std::to_string(fHalf) + " samples/block " + std::to_string(perBlock) + " error "
                            + std::to_string(err) + " rc " + std::to_string(static_cast<int>(e)));
                }
            }
        }
    }
    // An input plane past int32 offsets is refused before anything is read, as the CPU twin refuses it.
    TpsShape huge;
    huge.batch = 1;
    huge.channels = 1;
    huge.inHeight = 65536;
    huge.inWidth = 65536;
    huge.numFiducials = 20;
    huge.outHeight = 32;
    huge.outWidth = 100;
    tps::InverseDelta inverse;
    tps::inverseDelta(huge.numFiducials, inverse.values);
    report(launchTpsGridSample(huge, inverse, nullptr, false, nullptr, false, nullptr, nullptr, 0)
               == cudaErrorInvalidValue,
        "tps_grid_sample 65536x65536 input refused");
}

void checkCtc(std::mt19937& rng, int trials)
{
    for (int trial = 0; trial < trials; ++trial)
    {
        const int32_t n = 1 + static_cast<int32_t>(rng() % 11);
        const int32_t steps = 1 + static_cast<int32_t>(rng() % 30);
        const int32_t classes = 1 + static_cast<int32_t>(rng() % 70);
        const int32_t blank = static_cast<int32_t>(rng() % classes);
        const bool ties = trial % 2 == 0;
        const size_t count = static_cast<size_t>(n) * steps * classes;
        std::vector<float> scores(count);
        for (auto& v : scores)
        {
            v = ties ? static_cast<float>(rng() % 4) / 4.f : static_cast<float>(rng() % 100000) / 100000.f;
        }
        const int32_t nanSample = trial % 3 == 0 ? static_cast<int32_t>(rng() % n) : -1;
        if (nanSample >= 0)
        {
            scores[(static_cast<size_t>(nanSample) * steps + rng() % steps) * classes + rng() % classes] = NAN;
        }
        std::vector<__half> scoresHalf(count);
        for (size_t k = 0; k < count; ++k)
        {
            scoresHalf[k] = __float2half_rn(scores[k]);
        }
        for (int half = 0; half < 2; ++half)
        {
            const void* data = half ? static_cast<const void*>(scoresHalf.data()) : scores.data();
            std::vector<int32_t> expIdx(static_cast<size_t>(n) * steps);
            std::vector<int32_t> expLen(n);
            std::vector<float> expConf(n);
            const int64_t firstNan = ctcGreedyDecodeCPU(ScoresView{data, static_cast<bool>(half), n, steps, classes,
                                                            static_cast<int64_t>(steps) * classes, classes, 1},
                blank, expIdx.data(), expLen.data(), expConf.data(), 1);
            for (int flags = 0; flags < 2; ++flags)
            {
                std::vector<int32_t> idx(expIdx.size(), 12345);
                std::vector<int32_t> len(n, 12345);
                std::vector<float> conf(n, -7.f);
                std::vector<int32_t> nanFlags(n, 12345);
                const cudaError_t e = launchCtcGreedyDecode(data, half, n, steps, classes, blank, idx.data(),
                    len.data(), conf.data(), flags ? nanFlags.data() : nullptr, nullptr);
                bool ok = e == cudaSuccess;
                for (int32_t i = 0; i < n; ++i)
                {
                    const bool isNan = i == nanSample;
                    if (isNan && firstNan != nanSample)
                    {
                        ok = false; // the CPU twin must name the NaN sample
                    }
                    if (flags)
                    {
                        ok = ok && nanFlags[i] == (isNan ? 1 : 0);
                    }
                    if (isNan)
                    {
                        if (!flags)
                        {
                            ok = ok && len[i] == -1 && std::isnan(conf[i]);
                            for (int32_t t = 0; t < steps; ++t)
                            {
                                ok = ok && idx[static_cast<size_t>(i) * steps + t] == -1;
                            }
                        }
                        continue;
                    }
                    ok = ok && len[i] == expLen[i] && conf[i] == expConf[i];
                    for (int32_t t = 0; t < steps; ++t)
                    {
                        ok =
                            ok && idx[static_cast<size_t>(i) * steps + t] == expIdx[static_cast<size_t>(i) * steps + t];
                    }
                }
                report(ok, "ctc_greedy_decode N" + std::to_string(n) + " T" + std::to_string(steps) + " C"
                               + std::to_string(classes) + " blank " + std::to_string(blank) + " half "
                               + std::to_string(half) + " nan sample " + std::to_string(nanSample) + " flags "
                               + std::to_string(flags) + " rc " + std::to_string(static_cast<int>(e)));
            }
        }
    }
}

} // namespace

int main(int argc, char** argv)
{
    const unsigned seed = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 1u;
    const int trials = argc > 2 ? std::atoi(argv[2]) : 12;
    std::mt19937 rng(seed);
    const struct
    {
        const char* name;
        void (*run)(std::mt19937&, int);
    } kernels[] = {{"resize_normalize", checkResize}, {"tps_grid_sample", checkTps}, {"ctc_greedy_decode", checkCtc}};
    for (const auto& k : kernels)
    {
        const int before = gChecks;
        const int failedBefore = gFailures;
        k.run(rng, trials);
        std::printf("%s: %d checks, %d failed\n", k.name, gChecks - before, gFailures - failedBefore);
    }
    std::printf("emulated blocks: %llu\n", static_cast<unsigned long long>(emu::state().blocksRun));
    return gFailures == 0 ? 0 : 1;
}
