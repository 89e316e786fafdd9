// Device-side float32/float16 element access shared by the kernels: loads through the read-only cache and
// convert to float; stores round to the storage type (round-to-nearest-even for float16, as the CPU twins do).
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace starnet
{
namespace device
{

__device__ inline float loadValue(const float* p, int64_t i)
{
    return __ldg(p + i);
}

__device__ inline float loadValue(const __half* p, int64_t i)
{
    return __half2float(__ldg(p + i));
}

__device__ inline void storeValue(float* p, int64_t i, float v)
{
    p[i] = v;
}

__device__ inline void storeValue(__half* p, int64_t i, float v)
{
    p[i] = __float2half_rn(v);
}

} // namespace device
} // namespace starnet
