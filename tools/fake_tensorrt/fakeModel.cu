// The fake engine's "model": a deterministic function of the normalized input that a NumPy reference can repeat
// (tools/fake_tensorrt/README.md). Step t of sample n looks at input columns [t*W/T, (t+1)*W/T): v = their mean
// over channels and rows; class = clamp(floor((v + 1) / 2 * C), 0, C-1); its probability p = 0.3 + 0.6 * |v| /
// (1 + |v|), the other classes share 1 - p. With `decoded`, the kernel also does the greedy CTC decode (blank 0)
// like the StarNetCTCGreedyDecode plugin would, writing indices/lengths/confidence instead of probs.
#include "fakeModel.h"

#include <cuda_fp16.h>

namespace
{

__global__ void fakeModelKernel(const void* input, bool inputHalf, int32_t channels, int32_t height, int32_t width,
    int32_t steps, int32_t classes, float* probs, int32_t* indices, int32_t* lengths, float* confidence)
{
    const int32_t n = blockIdx.x;
    const int32_t plane = height * width;
    const int64_t base = static_cast<int64_t>(n) * channels * plane;
    __shared__ int32_t cls[256];
    __shared__ float prob[256];
    for (int32_t t = threadIdx.x; t < steps; t += blockDim.x)
    {
        const int32_t x0 = t * width / steps;
        const int32_t x1 = (t + 1) * width / steps;
        double sum = 0.0;
        for (int32_t c = 0; c < channels; ++c)
            for (int32_t y = 0; y < height; ++y)
                for (int32_t x = x0; x < x1; ++x)
                {
                    int64_t i = base + static_cast<int64_t>(c) * plane + y * width + x;
                    sum += inputHalf ? __half2float(static_cast<const __half*>(input)[i])
                                     : static_cast<const float*>(input)[i];
                }
        const double v = sum / (static_cast<double>(channels) * height * (x1 - x0));
        int32_t k = static_cast<int32_t>(floor((v + 1.0) * 0.5 * classes));
        k = k < 0 ? 0 : (k >= classes ? classes - 1 : k);
        const float p = static_cast<float>(0.3 + 0.6 * fabs(v) / (1.0 + fabs(v)));
        cls[t] = k;
        prob[t] = p;
        if (probs != nullptr)
        {
            float* row = probs + (static_cast<int64_t>(n) * steps + t) * classes;
            for (int32_t j = 0; j < classes; ++j)
            {
                row[j] = j == k ? p : (1.0F - p) / (classes - 1);
            }
        }
    }
    __syncthreads();
    if (indices != nullptr && threadIdx.x == 0)
    {
        int32_t length = 0;
        float total = 0.0F;
        int32_t previous = -1;
        for (int32_t t = 0; t < steps; ++t)
        {
            if (cls[t] != 0 && cls[t] != previous)
            {
                indices[static_cast<int64_t>(n) * steps + length++] = cls[t];
                total += prob[t];
            }
            previous = cls[t];
        }
        for (int32_t t = length; t < steps; ++t)
        {
            indices[static_cast<int64_t>(n) * steps + t] = -1;
        }
        lengths[n] = length;
        confidence[n] = length > 0 ? total / length : 0.0F;
    }
}

} // namespace

cudaError_t launchFakeModel(const FakeModelArgs& a, cudaStream_t stream)
{
    if (a.batch < 1 || a.steps > 256)
    {
        return cudaErrorInvalidValue;
    }
    fakeModelKernel<<<a.batch, 32, 0, stream>>>(a.input, a.inputHalf, a.channels, a.height, a.width, a.steps,
        a.classes, a.probs, a.indices, a.lengths, a.confidence);
    return cudaGetLastError();
}
