// Shared portability macros for code compiled by both the host compiler and nvcc.
#pragma once

#if defined(__CUDACC__)
#define STARNET_HD __host__ __device__
#else
#define STARNET_HD
#endif
