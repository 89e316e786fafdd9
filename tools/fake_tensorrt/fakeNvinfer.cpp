// A stand-in libnvinfer for testing the starnet-trt runtime on a GPU machine without TensorRT
// (tools/predictor_selftest.py --fake-tensorrt). It implements exactly the TensorRT entry points and interface
// methods the runtime uses (everything else aborts, see generate_stubs.py) over a fake engine whose "blob" is
//   FAKE-STARNET-ENGINE min opt max channels height width steps classes decoded inputHalf\n
// and whose enqueueV3 launches fakeModel.cu. It tests the runtime's plumbing (dlopen, deserialization, bindings,
// staging, GPU preprocess, chunking, min-batch padding, CUDA graphs, decode, async, clones), not TensorRT.
#include "fakeImplBase.h"
#include "fakeModel.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace fake
{
namespace
{

struct Spec
{
    int32_t minBatch{1}, optBatch{1}, maxBatch{1};
    int32_t channels{3}, height{32}, width{100}, steps{25}, classes{37};
    int32_t decoded{0}, inputHalf{0};
};

class EngineImpl;

class ContextImpl : public VExecutionContextBase
{
public:
    explicit ContextImpl(const Spec& spec)
        : mSpec(spec)
    {
    }
    bool setInputShape(char const* name, Dims const& dims) noexcept override
    {
        if (std::strcmp(name, "x") != 0 || dims.nbDims != 4 || dims.d[0] < mSpec.minBatch
            || dims.d[0] > mSpec.maxBatch || dims.d[1] != mSpec.channels || dims.d[2] != mSpec.height
            || dims.d[3] != mSpec.width)
        {
            return false;
        }
        mBatch = static_cast<int32_t>(dims.d[0]);
        return true;
    }
    Dims getTensorShape(char const* name) const noexcept override
    {
        std::string n = name;
        if (n == "x")
            return Dims4(mBatch, mSpec.channels, mSpec.height, mSpec.width);
        if (n == "probs")
            return Dims3(mBatch, mSpec.steps, mSpec.classes);
        if (n == "indices")
            return Dims2(mBatch, mSpec.steps);
        Dims d{};
        d.nbDims = 1;
        d.d[0] = mBatch;
        return d;
    }
#if NV_TENSORRT_MAJOR > 10 || (NV_TENSORRT_MAJOR == 10 && NV_TENSORRT_MINOR >= 1)
    void setDeviceMemoryV2(void*, int64_t) noexcept override {}
#else
    void setDeviceMemory(void*) noexcept override {}
#endif
    bool setTensorAddress(char const* name, void* data) noexcept override
    {
        mAddress[name] = data;
        return true;
    }
    bool enqueueV3(cudaStream_t stream) noexcept override
    {
        ++enqueues;
        FakeModelArgs a;
        a.input = mAddress["x"];
        a.inputHalf = mSpec.inputHalf != 0;
        a.batch = mBatch;
        a.channels = mSpec.channels;
        a.height = mSpec.height;
        a.width = mSpec.width;
        a.steps = mSpec.steps;
        a.classes = mSpec.classes;
        if (mSpec.decoded)
        {
            a.indices = static_cast<int32_t*>(mAddress["indices"]);
            a.lengths = static_cast<int32_t*>(mAddress["lengths"]);
            a.confidence = static_cast<float*>(mAddress["confidence"]);
        }
        else
        {
            a.probs = static_cast<float*>(mAddress["probs"]);
        }
        return launchFakeModel(a, stream) == cudaSuccess;
    }
    static int64_t enqueues;

private:
    Spec mSpec;
    int32_t mBatch{1};
    std::map<std::string, void*> mAddress;
};
int64_t ContextImpl::enqueues = 0;

class Context : public nvinfer1::IExecutionContext
{
public:
    explicit Context(const Spec& spec)
        : mImplObject(spec)
    {
        mImpl = &mImplObject;
    }

private:
    ContextImpl mImplObject;
};

class EngineImpl : public VCudaEngineBase
{
public:
    explicit EngineImpl(const Spec& spec)
        : mSpec(spec)
    {
        mNames = {"x"};
        if (spec.decoded)
        {
            mNames.insert(mNames.end(), {"indices", "lengths", "confidence"});
        }
        else
        {
            mNames.push_back("probs");
        }
    }
    int32_t getNbIOTensors() const noexcept override
    {
        return static_cast<int32_t>(mNames.size());
    }
    char const* getIOTensorName(int32_t index) const noexcept override
    {
        return index >= 0 && index < getNbIOTensors() ? mNames[index].c_str() : nullptr;
    }
    TensorIOMode getTensorIOMode(char const* name) const noexcept override
    {
        return std::strcmp(name, "x") == 0 ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
    }
    DataType getTensorDataType(char const* name) const noexcept override
    {
        std::string n = name;
        if (n == "x")
            return mSpec.inputHalf ? DataType::kHALF : DataType::kFLOAT;
        return n == "indices" || n == "lengths" ? DataType::kINT32 : DataType::kFLOAT;
    }
    Dims getProfileShape(char const*, int32_t, OptProfileSelector select) const noexcept override
    {
        int32_t b = select == OptProfileSelector::kMIN ? mSpec.minBatch
            : select == OptProfileSelector::kOPT       ? mSpec.optBatch
                                                       : mSpec.maxBatch;
        return Dims4(b, mSpec.channels, mSpec.height, mSpec.width);
    }
#if NV_TENSORRT_MAJOR > 10 || (NV_TENSORRT_MAJOR == 10 && NV_TENSORRT_MINOR >= 1)
    int64_t getDeviceMemorySizeV2() const noexcept override
    {
        return 256;
    }
#else
    size_t getDeviceMemorySize() const noexcept override
    {
        return 256;
    }
#endif
    IExecutionContext* createExecutionContext(ExecutionContextAllocationStrategy) noexcept override
    {
        return new Context(mSpec);
    }

private:
    Spec mSpec;
    std::vector<std::string> mNames;
};

class Engine : public nvinfer1::ICudaEngine
{
public:
    explicit Engine(const Spec& spec)
        : mImplObject(spec)
    {
        mImpl = &mImplObject;
    }

private:
    EngineImpl mImplObject;
};

class RuntimeImpl : public VRuntimeBase
{
public:
    explicit RuntimeImpl(ILogger* logger)
        : mLogger(logger)
    {
    }
    nvinfer1::ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override
    {
        std::string text(static_cast<const char*>(blob), size);
        Spec s;
        if (std::sscanf(text.c_str(), "FAKE-STARNET-ENGINE %d %d %d %d %d %d %d %d %d %d", &s.minBatch, &s.optBatch,
                &s.maxBatch, &s.channels, &s.height, &s.width, &s.steps, &s.classes, &s.decoded, &s.inputHalf)
            != 10)
        {
            mLogger->log(ILogger::Severity::kERROR, "fake TensorRT: not a fake engine blob");
            return nullptr;
        }
        return new Engine(s);
    }

private:
    ILogger* mLogger;
};

class Runtime : public nvinfer1::IRuntime
{
public:
    explicit Runtime(ILogger* logger)
        : mImplObject(logger)
    {
        mImpl = &mImplObject;
    }

private:
    RuntimeImpl mImplObject;
};

} // namespace
} // namespace fake

extern "C"
{

__attribute__((visibility("default"))) void* createInferRuntime_INTERNAL(void* logger, int32_t /*version*/) noexcept
{
    return static_cast<nvinfer1::IRuntime*>(new fake::Runtime(static_cast<nvinfer1::ILogger*>(logger)));
}

__attribute__((visibility("default"))) int32_t getInferLibVersion() noexcept
{
    return NV_TENSORRT_VERSION;
}

//! How many times enqueueV3 ran (the self-test checks that CUDA graphs replace it after the first call).
__attribute__((visibility("default"))) int64_t fakeEnqueueCount() noexcept
{
    return fake::ContextImpl::enqueues;
}

} // extern "C"
