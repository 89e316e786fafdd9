// IEEE binary16 -> float conversion usable on host and device, so the CPU path reads numpy float16 directly.
#pragma once

#include "platform.h"

#include <cstdint>
#include <cstring>

namespace starnet
{

STARNET_HD inline float halfBitsToFloat(uint16_t h)
{
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1fu)
    {
        bits = sign | 0x7f800000u | (mantissa << 13); // inf / NaN (payload kept, so NaN stays NaN)
    }
    else if (exponent != 0)
    {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    }
    else if (mantissa == 0)
    {
        bits = sign;
    }
    else
    {
        // Subnormal half: renormalise.
        exponent = 113u;
        while ((mantissa & 0x400u) == 0)
        {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

} // namespace starnet
