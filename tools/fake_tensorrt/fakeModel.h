#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

struct FakeModelArgs
{
    const void* input{nullptr};
    bool inputHalf{false};
    int32_t batch{0};
    int32_t channels{3};
    int32_t height{32};
    int32_t width{100};
    int32_t steps{25};
    int32_t classes{37};
    float* probs{nullptr};      //!< [N, T, C] or nullptr
    int32_t* indices{nullptr};  //!< decoded outputs, or nullptr
    int32_t* lengths{nullptr};
    float* confidence{nullptr};
};

cudaError_t launchFakeModel(const FakeModelArgs& args, cudaStream_t stream);
