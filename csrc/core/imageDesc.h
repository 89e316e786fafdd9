// Plain description of one strided uint8 image, shared by the CPU loops and the CUDA kernel.
#pragma once

#include <cstdint>

namespace starnet
{

//! One HxWxC uint8 image inside some buffer. Strides are in bytes and may be negative (numpy views such as
//! img[::-1]); `offset` is the byte offset of pixel (0, 0, 0) from the buffer start (CUDA packing) or 0 when
//! `data` already points at it (CPU).
struct ImageDesc
{
    const uint8_t* data{nullptr};
    int64_t offset{0};
    int32_t height{0};
    int32_t width{0};
    int32_t channels{0};
    int64_t strideY{0};
    int64_t strideX{0};
    int64_t strideC{0};
};

} // namespace starnet
