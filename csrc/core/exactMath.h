// Double-precision multiply and add, each rounded once, on the host and the device alike. nvcc would otherwise fuse
// `a * b + c` into an FMA, which the host builds (-ffp-contract=off) and the references (Pillow, numpy) do not
// execute; the twins that must agree bit for bit build their double math from these.
#pragma once

#include "platform.h"

namespace starnet
{
namespace exact
{

STARNET_HD inline double mul(double a, double b)
{
#if defined(__CUDA_ARCH__)
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

STARNET_HD inline double add(double a, double b)
{
#if defined(__CUDA_ARCH__)
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
}

} // namespace exact
} // namespace starnet
