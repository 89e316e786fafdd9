// Host emulation of the CUDA subset our kernels use, so CI (no GPU) runs the
// kernels' own source: their indexing, shared-memory phases, barriers, warp
// collectives and launch geometry, against the CPU twins.
//
// Force-included (g++ -include) before a kernel file that tests/emu/build.py
// has rewritten in two places: a launch `k<<<grid, block, smem,
// stream>>>(args)` becomes `emu::launch(grid, block, smem, stream, <lambda
// calling k>, args)` and `extern __shared__ T name[];` becomes a pointer into
// the launch's dynamic shared memory.
//
// Model: blocks run one after another; a block's threads are fibers (ucontext)
// on one OS thread, switched only at
// __syncthreads and warp collectives, so a run is deterministic. `__shared__`
// variables become function statics (one block at a time). Dynamic shared
// memory and nothing else is poisoned (0xCD) at each block's start. A barrier
// that cannot complete (a thread exits or waits elsewhere while others wait:
// divergent __syncthreads or a warp collective missing lanes) aborts with a
// message instead of hanging. Device math: the headers' host branches (no
// __CUDA_ARCH__) run, i.e. the CPU twins' roundings; this checks the kernels'
// logic, not the device's floating-point contraction, which tools/gpu_selftest
// checks on a GPU.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ucontext.h>
#include <vector>

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __launch_bounds__
#undef __forceinline__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __grid_constant__
#define __forceinline__ inline
#define __launch_bounds__(...)

namespace emu
{

enum class Wait
{
    kNone,
    kBlock,
    kWarp,
    kDone
};

struct Fiber
{
    ucontext_t context;
    std::vector<unsigned char> stack;
    Wait wait{Wait::kNone};
};

struct State
{
    dim3 grid;
    dim3 block;
    dim3 blockIdx;
    dim3 threadIdx;
    int current{0};
    int threads{0};
    ucontext_t scheduler;
    std::vector<Fiber> fibers;
    std::vector<unsigned char> dynamicShared;
    std::vector<uint64_t> exchange; // one slot per thread for warp collectives
    int occupancyPerSm{4};
    int multiprocessors{8};
    int sharedPerSm{233472}; // sm_90's 228 KB; the staged resize sizes its buffer from it
    int threadsPerSm{2048};
    std::function<void()> body; //!< the launch's kernel call, run by every fiber
    uint64_t blocksRun{0};
};

inline State& state()
{
    static State s;
    return s;
}

[[noreturn]] inline void fail(const char* what)
{
    State& s = state();
    std::fprintf(
        stderr, "cuda_emu: %s (block %u,%u,%u thread %d)\n", what, s.blockIdx.x, s.blockIdx.y, s.blockIdx.z, s.current);
    std::abort();
}

inline void yield(Wait w)
{
    State& s = state();
    Fiber& f = s.fibers[s.current];
    f.wait = w;
    swapcontext(&f.context, &s.scheduler);
}

inline void entry()
{
    state().body();
    yield(Wait::kDone);
}

//! Runs one block: every fiber to its next barrier, then releases the barriers
//! that every live participant reached.
inline void runBlock()
{
    State& s = state();
    const int n = s.threads;
    for (int t = 0; t < n; ++t)
    {
        Fiber& f = s.fibers[t];
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = f.stack.data();
        f.context.uc_stack.ss_size = f.stack.size();
        f.context.uc_link = nullptr;
        makecontext(&f.context, entry, 0);
        f.wait = Wait::kNone;
    }
    for (;;)
    {
        for (int t = 0; t < n; ++t)
        {
            if (s.fibers[t].wait != Wait::kNone)
            {
                continue;
            }
            s.current = t;
            s.threadIdx = dim3(t % s.block.x, (t / s.block.x) % s.block.y, t / (s.block.x * s.block.y));
            swapcontext(&s.scheduler, &s.fibers[t].context);
        }
        int done = 0;
        int atBlock = 0;
        for (int t = 0; t < n; ++t)
        {
            done += s.fibers[t].wait == Wait::kDone;
            atBlock += s.fibers[t].wait == Wait::kBlock;
        }
        if (done == n)
        {
            return;
        }
        // Every live fiber now waits somewhere. Warps whose live lanes all wait on
        // a collective go on first.
        bool released = false;
        for (int w = 0; w * 32 < n; ++w)
        {
            const int end = std::min(n, w * 32 + 32);
            int waiting = 0;
            int exited = 0;
            for (int t = w * 32; t < end; ++t)
            {
                waiting += s.fibers[t].wait == Wait::kWarp;
                exited += s.fibers[t].wait == Wait::kDone;
            }
            if (waiting > 0 && waiting + exited == end - w * 32)
            {
                if (exited > 0)
                {
                    fail("warp collective with exited lanes (only the full mask is "
                         "emulated)");
                }
                for (int t = w * 32; t < end; ++t)
                {
                    s.fibers[t].wait = Wait::kNone;
                }
                released = true;
            }
        }
        if (released)
        {
            continue;
        }
        if (atBlock + done != n)
        {
            fail("deadlock: __syncthreads or a warp collective not reached by every "
                 "live thread it needs");
        }
        for (auto& f : s.fibers)
        {
            f.wait = f.wait == Wait::kBlock ? Wait::kNone : f.wait;
        }
    }
}

template <class K, class... A>
void launch(dim3 grid, dim3 block, size_t smem, cudaStream_t, K kernel, A&&... args)
{
    State& s = state();
    s.grid = grid;
    s.block = block;
    s.threads = static_cast<int>(block.x * block.y * block.z);
    if (s.threads < 1 || s.threads > 1024 || grid.x < 1 || grid.y < 1 || grid.z < 1 || grid.y > 65535 || grid.z > 65535
        || smem > 227 * 1024)
    {
        fail("invalid launch configuration");
    }
    if (static_cast<int>(s.fibers.size()) < s.threads)
    {
        s.fibers.resize(s.threads);
        for (auto& f : s.fibers)
        {
            f.stack.resize(256 * 1024);
        }
    }
    s.exchange.assign(s.threads, 0);
    s.body = [&] {
        kernel(args...);
    };
    for (unsigned z = 0; z < grid.z; ++z)
    {
        for (unsigned y = 0; y < grid.y; ++y)
        {
            for (unsigned x = 0; x < grid.x; ++x)
            {
                s.blockIdx = dim3(x, y, z);
                s.dynamicShared.assign(std::max<size_t>(smem, 1), 0xCD); // exact size: a sanitized build catches overruns
                runBlock();
                ++s.blocksRun;
            }
        }
    }
    s.body = nullptr;
}

inline int laneId()
{
    return state().current % 32;
}

template <class T>
T shuffle(T v, int source)
{
    static_assert(sizeof(T) <= sizeof(uint64_t), "shuffle of a value wider than 64 bits");
    State& s = state();
    const int self = s.current;
    std::memcpy(&s.exchange[self], &v, sizeof(T));
    yield(Wait::kWarp);
    T out = v;
    if (source >= 0 && source < 32)
    {
        std::memcpy(&out, &s.exchange[self - laneId() + source], sizeof(T));
    }
    yield(Wait::kWarp); // nobody overwrites a slot before every lane has read
    return out;
}

} // namespace emu

#define threadIdx (emu::state().threadIdx)
#define blockIdx (emu::state().blockIdx)
#define blockDim (emu::state().block)
#define gridDim (emu::state().grid)

inline void __syncthreads()
{
    emu::yield(emu::Wait::kBlock);
}

template <class T>
inline T __ldg(const T* p)
{
    return *p;
}

template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int = 32)
{
    if (mask != 0xffffffffu)
    {
        emu::fail("__shfl_down_sync: only the full mask is emulated");
    }
    const int lane = emu::laneId() + static_cast<int>(delta);
    return emu::shuffle(v, lane < 32 ? lane : -1);
}

inline int __any_sync(unsigned mask, int predicate)
{
    if (mask != 0xffffffffu)
    {
        emu::fail("__any_sync: only the full mask is emulated");
    }
    emu::State& s = emu::state();
    s.exchange[s.current] = predicate != 0;
    emu::yield(emu::Wait::kWarp);
    int any = 0;
    for (int l = 0; l < 32; ++l)
    {
        any |= static_cast<int>(s.exchange[s.current - emu::laneId() + l]);
    }
    emu::yield(emu::Wait::kWarp);
    return any;
}

using std::max;
using std::min;

// Runtime API answers for the launchers' occupancy queries
// (emu::state().occupancyPerSm / multiprocessors).
template <class F>
inline cudaError_t emuOccupancy(int* blocks, F, int, size_t)
{
    *blocks = emu::state().occupancyPerSm;
    return cudaSuccess;
}
inline cudaError_t emuGetDevice(int* device)
{
    *device = 0;
    return cudaSuccess;
}
inline cudaError_t emuDeviceAttribute(int* value, cudaDeviceAttr attribute, int)
{
    switch (attribute)
    {
    case cudaDevAttrMultiProcessorCount:
        *value = emu::state().multiprocessors;
        return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
        *value = emu::state().sharedPerSm;
        return cudaSuccess;
    case cudaDevAttrMaxThreadsPerMultiProcessor:
        *value = emu::state().threadsPerSm;
        return cudaSuccess;
    default:
        emu::fail("cudaDeviceGetAttribute: attribute not emulated");
    }
}
//! A kernel's static shared memory is not measured here (the emulation keeps `__shared__` variables as statics):
//! 2 KB stands in for it, about the resize kernel's table and constants.
template <class F>
inline cudaError_t emuFuncAttributes(cudaFuncAttributes* attributes, F)
{
    *attributes = cudaFuncAttributes{};
    attributes->sharedSizeBytes = 2048;
    return cudaSuccess;
}
inline cudaError_t emuLastError()
{
    return cudaSuccess;
}
#define cudaOccupancyMaxActiveBlocksPerMultiprocessor emuOccupancy
#define cudaGetDevice emuGetDevice
#define cudaDeviceGetAttribute emuDeviceAttribute
#define cudaFuncGetAttributes emuFuncAttributes
#define cudaGetLastError emuLastError
