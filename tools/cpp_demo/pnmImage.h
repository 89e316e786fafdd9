// A minimal binary PNM reader (P5 gray, P6 RGB, 8-bit) so the demo needs no image library.
// Convert other formats first, e.g. `convert word.png word.ppm` or `python -c "import cv2; ..."`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace starnet
{
namespace demo
{

struct PnmImage
{
    int32_t height{0};
    int32_t width{0};
    int32_t channels{0}; //!< 1 (P5) or 3 (P6, RGB order)
    std::vector<uint8_t> pixels; //!< HxWxC, row-major
};

//! Reads a binary P5/P6 file with maxval <= 255. Throws std::runtime_error naming the file and the problem.
PnmImage readPnm(const std::string& path);

} // namespace demo
} // namespace starnet
