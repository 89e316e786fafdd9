// Launch sizing shared by the kernels' launchers: how many blocks of a kernel the whole current GPU holds at once.
#pragma once

#include <cuda_runtime_api.h> // nvcc includes cuda_runtime.h (the kernel-pointer overloads) itself

#include <cstdint>

namespace starnet
{
namespace device
{

//! Resident blocks of `kernel` on the whole current GPU (multiprocessors x blocks per multiprocessor) at `threads`
//! threads and `smem` bytes of dynamic shared memory per block; 64 when the runtime cannot say (its error is
//! cleared), at least one per multiprocessor. Launchers size a grid to one full wave with it.
template <typename Kernel>
int64_t residentBlocks(Kernel kernel, int threads, size_t smem)
{
    int device = 0;
    int multiprocessors = 0;
    int perSm = 0;
    if (cudaGetDevice(&device) != cudaSuccess
        || cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device) != cudaSuccess
        || cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, kernel, threads, smem) != cudaSuccess)
    {
        cudaGetLastError();
        return 64;
    }
    return static_cast<int64_t>(multiprocessors) * (perSm > 0 ? perSm : 1);
}

} // namespace device
} // namespace starnet
