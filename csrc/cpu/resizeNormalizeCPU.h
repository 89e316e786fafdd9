// CPU entry point of resize_normalize (see csrc/core/resizeNormalizeImpl.h for the math).
#pragma once

#include "core/imageDesc.h"
#include "core/resizeMode.h"

#include <cstdint>
#include <vector>

namespace starnet
{

//! Output geometry: a C-contiguous float32 [N, channels, height, width] buffer, channels 1 (gray) or 3 (BGR).
struct ResizeOutput
{
    float* data{nullptr};
    int32_t channels{3};
    int32_t height{32};
    int32_t width{100};
    ResizeMode mode{}; //!< keep-ratio + pad (PaddleOCR) or stretch (DTRB); gray before or after the resize
};

//! Throws std::invalid_argument when an image or the output description is unusable.
void validateResizeArgs(const std::vector<ImageDesc>& images, const ResizeOutput& out);

//! Resizes, normalises and pads every image into `out`; writes the valid width of each image to `widths`.
//! Call validateResizeArgs first (this function does not throw and may run without the GIL).
void resizeNormalizeCPU(const std::vector<ImageDesc>& images, const ResizeOutput& out, bool inputIsRgb, int32_t* widths,
    int32_t numThreads);

} // namespace starnet
