// CPU loop of resize_normalize with PIL's bicubic resampling (ResizeMode::pilBicubic; math in
// csrc/core/pilResampleImpl.h).
#pragma once

#include "core/imageDesc.h"
#include "cpu/resizeNormalizeCPU.h"

#include <cstdint>
#include <vector>

namespace starnet
{

//! Per-thread scratch, reused across images.
struct PilScratch
{
    std::vector<int32_t> xFirst, xCount, xStart, xCoef; // per output column: source window and its coefficients
    std::vector<int32_t> yFirst, yCount, yStart, yCoef; // per output row
    std::vector<uint8_t> rows;   // first pass: [plane][row][column] (Pillow's intermediate image)
    std::vector<uint8_t> levels; // second pass: [plane][output row][output column]
};

//! One image into `dst` ([out.channels, out.height, out.width]); the same contract as resizeNormalizeCPU per image.
void pilResizeNormalizeOne(
    const ImageDesc& img, const ResizeOutput& out, bool inputIsRgb, float* dst, int32_t& widthOut, PilScratch& s);

} // namespace starnet
