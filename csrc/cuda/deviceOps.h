// Host-memory conveniences around the CUDA launchers: upload, launch, download. They let Python tests compare the
// kernels with the CPU twins on a GPU machine; production pipelines call the launchers on their own buffers.
#pragma once

#include "core/imageDesc.h"
#include "cpu/ctcGreedyDecodeCPU.h"
#include "cpu/resizeNormalizeCPU.h"
#include "core/tpsGridSampleImpl.h"

#include <cstdint>
#include <vector>

namespace starnet
{

//! Number of visible CUDA devices; 0 when there is no driver or no GPU. Never throws.
int32_t cudaDeviceCount() noexcept;

//! Same contract as resizeNormalizeCPU, computed on the current device. Throws std::runtime_error on CUDA errors.
void resizeNormalizeDevice(
    const std::vector<ImageDesc>& images, const ResizeOutput& out, bool inputIsRgb, int32_t* widths);

//! Same contract as ctcGreedyDecodeCPU for C-contiguous scores. Throws std::runtime_error on CUDA errors.
int64_t ctcGreedyDecodeDevice(
    const ScoresView& scores, int32_t blank, int32_t* indices, int32_t* lengths, float* confidences);

//! Same contract as tpsGridSampleCPU (C-contiguous host tensors, `table` a host matrix or null), computed by the
//! CUDA kernel: table mode when `table` is given, rows on the fly otherwise.
void tpsGridSampleDevice(const TpsShape& shape, const void* image, bool imageHalf, const void* fiducials,
    bool fiducialsHalf, void* out, const float* table = nullptr);

//! Raw launchers on caller-owned device memory and stream (the pointers and the stream are integers from
//! torch/CuPy/etc.), for tools/gpu_selftest and the runtime. Throw std::runtime_error on a launch error.
void launchTpsGridSampleRaw(const TpsShape& shape, uintptr_t image, bool imageHalf, uintptr_t fiducials,
    bool fiducialsHalf, uintptr_t out, uintptr_t stream, int32_t samplesPerBlock = 0, uintptr_t table = 0);
void launchCtcGreedyDecodeRaw(uintptr_t scores, bool isHalf, int32_t batch, int32_t steps, int32_t classes,
    int32_t blank, uintptr_t indices, uintptr_t lengths, uintptr_t confidences, uintptr_t nanFlags,
    uintptr_t stream);
void launchResizeNormalizeRaw(uintptr_t images, uintptr_t descs, int32_t batch, uintptr_t out, bool outHalf,
    int32_t outChannels, int32_t outH, int32_t outW, bool inputIsRgb, uintptr_t widths, uintptr_t stream,
    ResizeMode mode = {}, ResizeTuning tuning = {});

} // namespace starnet
