// The TensorRT predictor: one execution context + CUDA stream per Predictor, the engine shared between clones.
//
// Per batch (split into chunks of the profile's max batch):
//   host uint8 images -> packed once into pinned staging (descriptors + pixels) -> one H2D copy (none on
//   integrated GPUs: the kernel reads the mapped staging) -> resizeNormalize kernel into the engine's input ->
//   enqueueV3 (+ the CTC greedy-decode kernel when the engine outputs scores) -> one D2H copy of the small
//   decoded block [indices | lengths | confidences] per chunk.
// With CUDA graphs on, "enqueueV3 (+ decode)" is captured once per batch size after a warm-up run and replayed;
// the preprocess and the copies stay outside the graph because their sizes and addresses change per call.
#include "starnet/predictor.h"

#include "core/imageDesc.h"
#include "core/resizeMode.h"
#include "cuda/ctcGreedyDecode.h"
#include "cuda/resizeNormalize.h"
#include "runtime/engineCheck.h"
#include "runtime/nvinferLoader.h"

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

namespace starnet
{
namespace
{

void check(cudaError_t status, const char* what)
{
    if (status != cudaSuccess)
    {
        cudaGetLastError(); // clear a non-sticky error so the predictor stays usable
        throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorString(status));
    }
}

size_t alignUp(size_t value, size_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

//! Pinned host memory, mapped into the device address space when asked (integrated GPUs), grown on demand.
//! Growing frees the old block: callers only grow when no GPU work reads it (after completing the batch in flight).
class HostBuffer
{
public:
    HostBuffer() = default;
    ~HostBuffer()
    {
        release();
    }
    HostBuffer(const HostBuffer&) = delete;
    HostBuffer& operator=(const HostBuffer&) = delete;

    void reserve(size_t bytes, bool mapped)
    {
        if (bytes <= mBytes)
        {
            return;
        }
        release();
        size_t grown = std::max(bytes, mBytes + mBytes / 2);
        check(cudaHostAlloc(&mHost, grown, mapped ? cudaHostAllocMapped : cudaHostAllocDefault), "cudaHostAlloc");
        mBytes = grown;
        if (mapped)
        {
            check(cudaHostGetDevicePointer(&mDevice, mHost, 0), "cudaHostGetDevicePointer");
        }
    }
    void release() noexcept
    {
        if (mHost != nullptr)
        {
            cudaFreeHost(mHost);
        }
        mHost = nullptr;
        mDevice = nullptr;
        mBytes = 0;
    }
    uint8_t* host() const
    {
        return static_cast<uint8_t*>(mHost);
    }
    //! The device alias of mapped memory (nullptr unless reserved with mapped = true).
    uint8_t* device() const
    {
        return static_cast<uint8_t*>(mDevice);
    }

private:
    void* mHost{nullptr};
    void* mDevice{nullptr};
    size_t mBytes{0};
};

class DeviceBuffer
{
public:
    DeviceBuffer() = default;
    ~DeviceBuffer()
    {
        release();
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    void reserve(size_t bytes)
    {
        if (bytes <= mBytes)
        {
            return;
        }
        release();
        size_t grown = std::max(bytes, mBytes + mBytes / 2);
        check(cudaMalloc(&mPtr, grown), "cudaMalloc");
        mBytes = grown;
    }
    void release() noexcept
    {
        if (mPtr != nullptr)
        {
            cudaFree(mPtr);
        }
        mPtr = nullptr;
        mBytes = 0;
    }
    uint8_t* get() const
    {
        return static_cast<uint8_t*>(mPtr);
    }

private:
    void* mPtr{nullptr};
    size_t mBytes{0};
};

size_t elementSize(nvinfer1::DataType type)
{
    switch (type)
    {
    case nvinfer1::DataType::kHALF:
    case nvinfer1::DataType::kBF16: return 2;
    case nvinfer1::DataType::kINT8:
    case nvinfer1::DataType::kUINT8:
    case nvinfer1::DataType::kBOOL:
    case nvinfer1::DataType::kFP8: return 1;
    case nvinfer1::DataType::kINT64: return 8;
    default: return 4;
    }
}

int64_t volume(const nvinfer1::Dims& dims)
{
    int64_t v = 1;
    for (int32_t i = 0; i < dims.nbDims; ++i)
    {
        v *= std::max<int64_t>(dims.d[i], 0);
    }
    return v;
}

// Activation memory is user-managed so that several contexts (one per captured batch size) can share one block:
// they all run on the predictor's one stream, one after the other. The V2 calls exist from TensorRT 10.1 on.
#if NV_TENSORRT_MAJOR > 10 || (NV_TENSORRT_MAJOR == 10 && NV_TENSORRT_MINOR >= 1)
int64_t activationBytes(const nvinfer1::ICudaEngine& engine)
{
    return engine.getDeviceMemorySizeV2();
}
void attachActivations(nvinfer1::IExecutionContext& context, void* memory, int64_t bytes)
{
    context.setDeviceMemoryV2(memory, bytes);
}
#else
int64_t activationBytes(const nvinfer1::ICudaEngine& engine)
{
    return static_cast<int64_t>(engine.getDeviceMemorySize());
}
void attachActivations(nvinfer1::IExecutionContext& context, void* memory, int64_t)
{
    context.setDeviceMemory(memory);
}
#endif

//! One deserialized engine, shared (read-only) by a predictor and its clones.
struct SharedEngine
{
    TrtLibrary* trt{nullptr};
    nvinfer1::ICudaEngine* engine{nullptr};
    EngineInfo info;
    int32_t device{0};
    bool integrated{false};
    bool inputHalf{false};
    ResizeMode resizeMode; //!< the sidecar's preprocessing, as Preprocess.resize_kwargs maps it for the CPU op
    std::string scoresName; //!< the probs output the decode kernel reads (engines without the decode plugin)
    bool scoresHalf{false};
    std::vector<std::string> extraOutputs; //!< outputs nobody reads (bound to scratch memory)

    SharedEngine() = default;
    SharedEngine(const SharedEngine&) = delete;
    SharedEngine& operator=(const SharedEngine&) = delete;
    ~SharedEngine()
    {
        if (engine != nullptr)
        {
            cudaSetDevice(device);
            delete engine;
        }
    }
};

//! The device and its properties; refuses clearly when there is no driver or GPU.
cudaDeviceProp deviceProperties(int32_t device)
{
    int32_t count = cudaDeviceCount();
    if (count == 0)
    {
        throw std::runtime_error("no CUDA device is visible (no NVIDIA GPU, no driver, or CUDA_VISIBLE_DEVICES hides "
                                 "it): the TensorRT backend needs an NVIDIA GPU; run the ONNX model with "
                                 "backend='onnxruntime' instead");
    }
    if (device < 0 || device >= count)
    {
        throw std::invalid_argument("device " + std::to_string(device) + " does not exist: " + std::to_string(count)
            + " CUDA device(s) visible");
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    return prop;
}

std::shared_ptr<SharedEngine> loadEngine(const std::string& enginePath, const PredictorOptions& options)
{
    // Everything that needs neither a GPU nor TensorRT first, so a wrong file is reported as such everywhere.
    std::vector<char> bytes;
    EngineInfo info = readCheckedEngine(enginePath, options.sidecarPath, bytes);
    if (info.output == "logits" && !info.decodePlugin)
    {
        throw std::invalid_argument("'" + enginePath + "' outputs logits and has no decode plugin: the confidences "
            "need probabilities; rebuild it with the starnet-trt plugins or use the ONNX model with ONNX Runtime");
    }
    cudaDeviceProp prop = deviceProperties(options.device);
    std::string computeCapability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    TrtLibrary& trt = loadTensorRT(options.libnvinferPath);
    if (!info.plugins.empty())
    {
        loadPlugins(trt, options.pluginLibraryPath);
    }
    checkEngineEnvironment(info, trt.version, computeCapability, trt.plugins);

    auto shared = std::make_shared<SharedEngine>();
    shared->trt = &trt;
    shared->device = options.device;
    shared->integrated = prop.integrated != 0;
    if (info.resize == "stretch")
    {
        // DTRB's pipeline: PIL convert("L") before the resize for 1-channel models, PIL bicubic to the full size;
        // a 3-channel stretch model keeps its BGR planes (Preprocess.resize_kwargs: gray "pil" only when gray).
        shared->resizeMode.stretch = true;
        shared->resizeMode.grayBeforeResize = info.channels == 1;
        shared->resizeMode.pilBicubic = true;
    }
    check(cudaSetDevice(options.device), "cudaSetDevice");
    {
        std::lock_guard<std::mutex> lock(trt.mutex);
        shared->engine = trt.runtime->deserializeCudaEngine(bytes.data(), bytes.size());
        if (shared->engine == nullptr)
        {
            throw std::runtime_error("TensorRT " + trt.version + " cannot deserialize '" + enginePath
                + "': " + trt.logger.takeErrors());
        }
    }
    nvinfer1::ICudaEngine& engine = *shared->engine;
    std::string input;
    std::vector<std::string> outputs;
    int32_t inputs = 0;
    for (int32_t i = 0; i < engine.getNbIOTensors(); ++i)
    {
        const char* name = engine.getIOTensorName(i);
        if (engine.getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT)
        {
            input = name;
            ++inputs;
        }
        else
        {
            outputs.emplace_back(name);
        }
    }
    if (inputs != 1)
    {
        throw std::invalid_argument("'" + enginePath + "' has " + std::to_string(inputs) + " inputs; expected 1");
    }
    nvinfer1::DataType inputType = engine.getTensorDataType(input.c_str());
    if (inputType != nvinfer1::DataType::kFLOAT && inputType != nvinfer1::DataType::kHALF)
    {
        throw std::invalid_argument("'" + enginePath + "' input '" + input + "' is neither float32 nor float16");
    }
    shared->inputHalf = inputType == nvinfer1::DataType::kHALF;
    info.inputName = input;
    nvinfer1::Dims lo = engine.getProfileShape(input.c_str(), 0, nvinfer1::OptProfileSelector::kMIN);
    nvinfer1::Dims opt = engine.getProfileShape(input.c_str(), 0, nvinfer1::OptProfileSelector::kOPT);
    nvinfer1::Dims hi = engine.getProfileShape(input.c_str(), 0, nvinfer1::OptProfileSelector::kMAX);
    if (hi.nbDims != 4 || hi.d[1] != info.channels || hi.d[2] != info.height || hi.d[3] != info.width)
    {
        throw std::invalid_argument("'" + enginePath + "' input profile does not match the sidecar's preprocessing [N, "
            + std::to_string(info.channels) + ", " + std::to_string(info.height) + ", " + std::to_string(info.width)
            + "]");
    }
    info.minBatch = static_cast<int32_t>(lo.d[0]);
    info.optBatch = static_cast<int32_t>(opt.d[0]);
    info.maxBatch = static_cast<int32_t>(hi.d[0]);
    auto has = [&](const char* name) { return std::find(outputs.begin(), outputs.end(), name) != outputs.end(); };
    info.decodePlugin = has("indices") && has("lengths") && has("confidence");
    if (info.decodePlugin)
    {
        if (engine.getTensorDataType("indices") != nvinfer1::DataType::kINT32
            || engine.getTensorDataType("lengths") != nvinfer1::DataType::kINT32
            || engine.getTensorDataType("confidence") != nvinfer1::DataType::kFLOAT)
        {
            throw std::invalid_argument("'" + enginePath + "' decode outputs are not int32/int32/float32");
        }
    }
    else
    {
        shared->scoresName = has("probs") ? "probs" : outputs.size() == 1 ? outputs[0] : "";
        if (shared->scoresName.empty())
        {
            throw std::invalid_argument("'" + enginePath + "' has neither the decode outputs (indices, lengths, "
                "confidence) nor one 'probs' output");
        }
        nvinfer1::DataType t = engine.getTensorDataType(shared->scoresName.c_str());
        if (t != nvinfer1::DataType::kFLOAT && t != nvinfer1::DataType::kHALF)
        {
            throw std::invalid_argument("'" + enginePath + "' scores are neither float32 nor float16");
        }
        shared->scoresHalf = t == nvinfer1::DataType::kHALF;
    }
    for (const auto& name : outputs)
    {
        bool used = info.decodePlugin ? (name == "indices" || name == "lengths" || name == "confidence")
                                      : name == shared->scoresName;
        if (!used)
        {
            shared->extraOutputs.push_back(name);
        }
    }
    shared->info = std::move(info);
    return shared;
}

} // namespace

// -- pending results ---------------------------------------------------------------------------------------------

struct PendingResult::State
{
    Predictor::Impl* owner{nullptr}; //!< set while the batch is in flight
    std::vector<int32_t> chunks;     //!< images per chunk
    Decoded result;
    bool collected{false};
};

// -- the predictor -----------------------------------------------------------------------------------------------

struct Predictor::Impl
{
    std::shared_ptr<SharedEngine> mShared;
    nvinfer1::IExecutionContext* mContext{nullptr}; //!< any batch size (setInputShape per call), no graphs
    cudaStream_t mStream{nullptr};
    cudaEvent_t mDone{nullptr};
    cudaEvent_t mProducer{nullptr};
    bool mUseGraphs{true};
    //! With graphs: one context per batch size, its input shape set once. TensorRT may keep shape-dependent state
    //! in a context (uploaded by enqueueV3 after a shape change), which a graph captured at another shape would
    //! then replay wrongly; a context whose shape never changes keeps its graph valid. exec nullptr: capture
    //! failed, that size runs its context without a graph.
    struct Shaped
    {
        nvinfer1::IExecutionContext* context{nullptr};
        cudaGraphExec_t exec{nullptr};
    };
    std::map<int32_t, Shaped> mGraphs;
    DeviceBuffer mActivations; //!< shared by every context of this predictor (one stream: never concurrent)
    int64_t mActivationBytes{0};
    int32_t mCurrentBatch{-1};
    int32_t mSteps{0};
    size_t mBlockBytes{0}; //!< decoded block per chunk: indices [max, T] | lengths [max] | confidences [max]
    DeviceBuffer mInput;
    DeviceBuffer mWidths;
    DeviceBuffer mBlock;
    DeviceBuffer mScores;
    std::vector<std::unique_ptr<DeviceBuffer>> mScratch;
    HostBuffer mStaging;
    DeviceBuffer mDeviceStaging;
    HostBuffer mHostOut;
    std::shared_ptr<PendingResult::State> mInFlight;

    Impl(std::shared_ptr<SharedEngine> shared, bool useGraphs)
        : mShared(std::move(shared))
        , mUseGraphs(useGraphs)
    {
        try
        {
            setUp();
        }
        catch (...)
        {
            tearDown();
            throw;
        }
    }
    ~Impl()
    {
        tearDown();
    }

    const EngineInfo& info() const
    {
        return mShared->info;
    }

    void setUp()
    {
        SharedEngine& s = *mShared;
        const EngineInfo& info = s.info;
        check(cudaSetDevice(s.device), "cudaSetDevice");
        mActivationBytes = std::max<int64_t>(activationBytes(*s.engine), 1);
        mActivations.reserve(static_cast<size_t>(mActivationBytes));
        mContext = makeContext();
        check(cudaStreamCreateWithFlags(&mStream, cudaStreamNonBlocking), "cudaStreamCreate");
        check(cudaEventCreateWithFlags(&mDone, cudaEventDisableTiming), "cudaEventCreate");
        check(cudaEventCreateWithFlags(&mProducer, cudaEventDisableTiming), "cudaEventCreate");
        const int32_t maxBatch = info.maxBatch;
        setBatch(maxBatch);
        const char* stepsFrom = info.decodePlugin ? "indices" : s.scoresName.c_str();
        nvinfer1::Dims outDims = mContext->getTensorShape(stepsFrom);
        if (outDims.nbDims < 2 || outDims.d[1] < 1)
        {
            throw std::invalid_argument("cannot tell the output length T from '" + std::string(stepsFrom) + "'");
        }
        mSteps = static_cast<int32_t>(outDims.d[1]);
        if (!info.decodePlugin && (outDims.nbDims != 3 || outDims.d[2] != info.classes))
        {
            throw std::invalid_argument("'" + info.enginePath + "' output '" + s.scoresName + "' has "
                + (outDims.nbDims == 3 ? std::to_string(outDims.d[2]) : std::string("?"))
                + " classes but its charset needs " + std::to_string(info.classes) + " (blank + charset)");
        }
        size_t inputBytes = static_cast<size_t>(maxBatch) * info.channels * info.height * info.width
            * (s.inputHalf ? 2 : 4);
        mInput.reserve(inputBytes);
        check(cudaMemset(mInput.get(), 0, inputBytes), "cudaMemset");
        mWidths.reserve(static_cast<size_t>(maxBatch) * sizeof(int32_t));
        mBlockBytes = alignUp(static_cast<size_t>(maxBatch) * (mSteps + 2) * sizeof(int32_t), 256);
        mBlock.reserve(mBlockBytes);
        if (!info.decodePlugin)
        {
            mScores.reserve(static_cast<size_t>(volume(outDims)) * (s.scoresHalf ? 2 : 4));
        }
        for (const auto& name : s.extraOutputs)
        {
            nvinfer1::Dims d = mContext->getTensorShape(name.c_str());
            mScratch.push_back(std::make_unique<DeviceBuffer>());
            mScratch.back()->reserve(std::max<size_t>(
                1, static_cast<size_t>(volume(d)) * elementSize(s.engine->getTensorDataType(name.c_str()))));
        }
        bindAll(*mContext);
    }

    //! A context on the shared activation memory (bound to the buffers once they exist).
    nvinfer1::IExecutionContext* makeContext()
    {
        nvinfer1::IExecutionContext* context
            = mShared->engine->createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED);
        if (context == nullptr)
        {
            throw std::runtime_error(
                "TensorRT cannot create an execution context: " + mShared->trt->logger.takeErrors());
        }
        attachActivations(*context, mActivations.get(), mActivationBytes);
        return context;
    }

    void bindAll(nvinfer1::IExecutionContext& context)
    {
        const SharedEngine& s = *mShared;
        bind(context, s.info.inputName.c_str(), mInput.get());
        if (s.info.decodePlugin)
        {
            bind(context, "indices", indices(mBlock.get()));
            bind(context, "lengths", lengths(mBlock.get()));
            bind(context, "confidence", confidences(mBlock.get()));
        }
        else
        {
            bind(context, s.scoresName.c_str(), mScores.get());
        }
        for (size_t i = 0; i < s.extraOutputs.size(); ++i)
        {
            bind(context, s.extraOutputs[i].c_str(), mScratch[i]->get());
        }
    }

    void tearDown() noexcept
    {
        if (mShared)
        {
            cudaSetDevice(mShared->device);
        }
        if (mStream != nullptr)
        {
            cudaStreamSynchronize(mStream);
        }
        for (auto& shaped : mGraphs)
        {
            if (shaped.second.exec != nullptr)
            {
                cudaGraphExecDestroy(shaped.second.exec);
            }
            delete shaped.second.context;
        }
        mGraphs.clear();
        delete mContext; // contexts before the engine (mShared) and their activation memory go
        mContext = nullptr;
        for (cudaEvent_t* e : {&mDone, &mProducer})
        {
            if (*e != nullptr)
            {
                cudaEventDestroy(*e);
                *e = nullptr;
            }
        }
        if (mStream != nullptr)
        {
            cudaStreamDestroy(mStream);
            mStream = nullptr;
        }
        mActivations.release();
        mInput.release();
        mWidths.release();
        mBlock.release();
        mScores.release();
        mScratch.clear();
        mStaging.release();
        mDeviceStaging.release();
        mHostOut.release();
        mShared.reset();
    }

    int32_t* indices(uint8_t* block) const
    {
        return reinterpret_cast<int32_t*>(block);
    }
    int32_t* lengths(uint8_t* block) const
    {
        return indices(block) + static_cast<size_t>(info().maxBatch) * mSteps;
    }
    float* confidences(uint8_t* block) const
    {
        return reinterpret_cast<float*>(lengths(block) + info().maxBatch);
    }

    void bind(nvinfer1::IExecutionContext& context, const char* name, void* address)
    {
        if (!context.setTensorAddress(name, address))
        {
            throw std::runtime_error(std::string("TensorRT refused the address of '") + name
                + "': " + mShared->trt->logger.takeErrors());
        }
    }

    //! The shape of the graph-less context.
    void setBatch(int32_t batch)
    {
        if (batch == mCurrentBatch)
        {
            return;
        }
        const EngineInfo& info = mShared->info;
        nvinfer1::Dims4 dims(batch, info.channels, info.height, info.width);
        if (!mContext->setInputShape(info.inputName.c_str(), dims))
        {
            throw std::runtime_error("TensorRT refused batch " + std::to_string(batch) + ": "
                + mShared->trt->logger.takeErrors());
        }
        mCurrentBatch = batch;
    }

    //! enqueueV3 and, for engines that output scores, the decode kernel; false when either fails to launch.
    bool enqueue(nvinfer1::IExecutionContext& context, int32_t batch)
    {
        if (!context.enqueueV3(mStream))
        {
            return false;
        }
        if (mShared->info.decodePlugin)
        {
            return true;
        }
        uint8_t* block = mBlock.get();
        return launchCtcGreedyDecode(mScores.get(), mShared->scoresHalf, batch, mSteps, mShared->info.classes,
                   mShared->info.blankIndex, indices(block), lengths(block), confidences(block), nullptr, mStream)
            == cudaSuccess;
    }

    cudaGraphExec_t capture(nvinfer1::IExecutionContext& context, int32_t batch)
    {
        cudaGraph_t graph = nullptr;
        if (cudaStreamBeginCapture(mStream, cudaStreamCaptureModeThreadLocal) != cudaSuccess)
        {
            cudaGetLastError();
            return nullptr;
        }
        bool launched = enqueue(context, batch);
        cudaError_t ended = cudaStreamEndCapture(mStream, &graph);
        cudaGraphExec_t exec = nullptr;
        if (launched && ended == cudaSuccess && graph != nullptr
            && cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess)
        {
            exec = nullptr;
        }
        if (graph != nullptr)
        {
            cudaGraphDestroy(graph);
        }
        if (exec == nullptr)
        {
            // Some layers or plugins cannot be captured on some versions: plain enqueue for this size from now on.
            cudaGetLastError();
            mShared->trt->logger.takeErrors();
        }
        return exec;
    }

    //! The engine (+ decode) on the first `batch` rows of the input buffer, outputs in the decoded block.
    void infer(int32_t batch)
    {
        if (!mUseGraphs)
        {
            setBatch(batch);
            if (!enqueue(*mContext, batch))
            {
                throw std::runtime_error("TensorRT enqueue failed for batch " + std::to_string(batch) + ": "
                    + mShared->trt->logger.takeErrors());
            }
            return;
        }
        auto found = mGraphs.find(batch);
        if (found != mGraphs.end() && found->second.exec != nullptr)
        {
            check(cudaGraphLaunch(found->second.exec, mStream), "cudaGraphLaunch");
            return;
        }
        bool first = found == mGraphs.end();
        if (first)
        {
            Shaped shaped;
            shaped.context = makeContext();
            found = mGraphs.emplace(batch, shaped).first; // owned from here (tearDown deletes it)
            const EngineInfo& info = mShared->info;
            if (!shaped.context->setInputShape(
                    info.inputName.c_str(), nvinfer1::Dims4(batch, info.channels, info.height, info.width)))
            {
                throw std::runtime_error("TensorRT refused batch " + std::to_string(batch) + ": "
                    + mShared->trt->logger.takeErrors());
            }
            bindAll(*shaped.context);
        }
        nvinfer1::IExecutionContext& context = *found->second.context;
        if (!enqueue(context, batch))
        {
            throw std::runtime_error("TensorRT enqueue failed for batch " + std::to_string(batch) + ": "
                + mShared->trt->logger.takeErrors());
        }
        // The run above was the warm-up TensorRT wants before capture (it flushes deferred work and allocations);
        // capturing records the launches without executing them, so the next call of this size replays it.
        if (first)
        {
            found->second.exec = capture(context, batch);
        }
    }

    template <typename Prepare>
    PendingResult runChunks(int32_t n, Prepare&& prepare)
    {
        const EngineInfo& info = mShared->info;
        auto state = std::make_shared<PendingResult::State>();
        int32_t chunks = (n + info.maxBatch - 1) / info.maxBatch;
        mHostOut.reserve(static_cast<size_t>(chunks) * mBlockBytes, false);
        for (int32_t k = 0, start = 0; k < chunks; ++k, start += info.maxBatch)
        {
            int32_t count = std::min(info.maxBatch, n - start);
            prepare(start, count);
            // Below the profile's min the batch is padded with rows nobody reads (stale input, own outputs).
            infer(std::max(count, info.minBatch));
            check(cudaMemcpyAsync(mHostOut.host() + static_cast<size_t>(k) * mBlockBytes, mBlock.get(), mBlockBytes,
                      cudaMemcpyDeviceToHost, mStream),
                "cudaMemcpyAsync (outputs)");
            state->chunks.push_back(count);
        }
        check(cudaEventRecord(mDone, mStream), "cudaEventRecord");
        state->owner = this;
        state->result.batch = n;
        state->result.steps = mSteps;
        mInFlight = state;
        PendingResult pending;
        pending.mState = state;
        return pending;
    }

    void collect(PendingResult::State& state)
    {
        if (state.collected)
        {
            return;
        }
        check(cudaSetDevice(mShared->device), "cudaSetDevice");
        check(cudaEventSynchronize(mDone), "waiting for the batch");
        Decoded& out = state.result;
        const size_t steps = static_cast<size_t>(mSteps);
        out.indices.resize(static_cast<size_t>(out.batch) * steps);
        out.lengths.resize(out.batch);
        out.confidences.resize(out.batch);
        size_t row = 0;
        for (size_t k = 0; k < state.chunks.size(); ++k)
        {
            uint8_t* block = mHostOut.host() + k * mBlockBytes;
            size_t count = static_cast<size_t>(state.chunks[k]);
            std::memcpy(out.indices.data() + row * steps, indices(block), count * steps * sizeof(int32_t));
            std::memcpy(out.lengths.data() + row, lengths(block), count * sizeof(int32_t));
            std::memcpy(out.confidences.data() + row, confidences(block), count * sizeof(float));
            row += count;
        }
        state.collected = true;
        state.owner = nullptr;
        if (mInFlight.get() == &state)
        {
            mInFlight.reset();
        }
    }

    void begin()
    {
        check(cudaSetDevice(mShared->device), "cudaSetDevice");
        if (mInFlight)
        {
            auto previous = mInFlight; // keeps the state alive while it is collected
            collect(*previous);
        }
    }

    PendingResult emptyResult() const
    {
        PendingResult pending;
        pending.mState = std::make_shared<PendingResult::State>();
        pending.mState->result.steps = mSteps;
        pending.mState->collected = true;
        return pending;
    }

    //! Host images: packed densely into one staging block (descriptors, then pixels), uploaded in one copy.
    PendingResult submitImages(const std::vector<ImageView>& images, bool inputIsRgb)
    {
        checkImages(images);
        begin();
        if (images.empty())
        {
            return emptyResult();
        }
        const int32_t n = static_cast<int32_t>(images.size());
        const size_t descBytes = alignUp(images.size() * sizeof(ImageDesc), 256);
        size_t pixels = 0;
        for (const auto& im : images)
        {
            pixels += static_cast<size_t>(im.height) * im.width * im.channels;
        }
        const bool mapped = mShared->integrated;
        mStaging.reserve(descBytes + pixels, mapped);
        auto* descs = reinterpret_cast<ImageDesc*>(mStaging.host());
        uint8_t* cursor = mStaging.host() + descBytes;
        int64_t offset = 0;
        for (size_t i = 0; i < images.size(); ++i)
        {
            const ImageView& im = images[i];
            const size_t row = static_cast<size_t>(im.width) * im.channels;
            if (im.strideX == im.channels && im.strideC == 1)
            {
                for (int32_t y = 0; y < im.height; ++y)
                {
                    std::memcpy(cursor + y * row, im.data + y * im.strideY, row);
                }
            }
            else
            {
                uint8_t* dst = cursor;
                for (int32_t y = 0; y < im.height; ++y)
                {
                    for (int32_t x = 0; x < im.width; ++x)
                    {
                        const uint8_t* src = im.data + y * im.strideY + x * im.strideX;
                        for (int32_t c = 0; c < im.channels; ++c)
                        {
                            *dst++ = src[c * im.strideC];
                        }
                    }
                }
            }
            ImageDesc d;
            d.offset = offset;
            d.height = im.height;
            d.width = im.width;
            d.channels = im.channels;
            d.strideY = static_cast<int64_t>(row);
            d.strideX = im.channels;
            d.strideC = 1;
            descs[i] = d;
            cursor += row * im.height;
            offset += static_cast<int64_t>(row) * im.height;
        }
        uint8_t* device = mStaging.device();
        if (!mapped)
        {
            mDeviceStaging.reserve(descBytes + pixels);
            check(cudaMemcpyAsync(mDeviceStaging.get(), mStaging.host(), descBytes + pixels, cudaMemcpyHostToDevice,
                      mStream),
                "cudaMemcpyAsync (images)");
            device = mDeviceStaging.get();
        }
        const auto* dDescs = reinterpret_cast<const ImageDesc*>(device);
        const uint8_t* dPixels = device + descBytes;
        return runChunks(n, [&](int32_t start, int32_t count) { preprocess(dPixels, dDescs + start, count, inputIsRgb); });
    }

    void preprocess(const uint8_t* dPixels, const ImageDesc* dDescs, int32_t count, bool inputIsRgb)
    {
        const EngineInfo& info = mShared->info;
        check(launchResizeNormalize(dPixels, dDescs, count, mInput.get(), mShared->inputHalf, info.channels,
                  info.height, info.width, inputIsRgb, reinterpret_cast<int32_t*>(mWidths.get()), mStream,
                  mShared->resizeMode),
            "resizeNormalize launch");
    }

    PendingResult submitTensor(const TensorView& view, bool inputIsRgb)
    {
        const EngineInfo& info = mShared->info;
        checkInput(info, view);
        const int32_t n = static_cast<int32_t>(view.shape[0]);
        if (view.memory == Memory::kHOST && view.dtype == DType::kUINT8)
        {
            std::vector<ImageView> images(n);
            for (int32_t i = 0; i < n; ++i)
            {
                images[i] = ImageView{static_cast<const uint8_t*>(view.data) + i * view.strides[0],
                    static_cast<int32_t>(view.shape[1]), static_cast<int32_t>(view.shape[2]),
                    static_cast<int32_t>(view.shape[3]), view.strides[1], view.strides[2], view.strides[3]};
            }
            return submitImages(images, inputIsRgb);
        }
        if (view.dtype == DType::kFLOAT32 && mShared->inputHalf)
        {
            throw std::invalid_argument("this engine takes float16 input: pass uint8 images (preprocessed on the GPU)");
        }
        TensorView checked = view;
        if (view.memory == Memory::kDEVICE)
        {
            // The producer's claim is checked against the driver: host memory handed in as "device" would fault.
            cudaPointerAttributes attributes{};
            check(cudaPointerGetAttributes(&attributes, view.data), "cudaPointerGetAttributes");
            if (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged)
            {
                throw std::invalid_argument("the input claims to be CUDA device memory but is not");
            }
            checked.deviceId = attributes.device;
        }
        if (checked.memory == Memory::kDEVICE && checked.deviceId != mShared->device)
        {
            throw std::invalid_argument("the input is on CUDA device " + std::to_string(checked.deviceId)
                + " but the predictor runs on device " + std::to_string(mShared->device));
        }
        begin();
        const bool mapped = mShared->integrated;
        const size_t sample = static_cast<size_t>(info.channels) * info.height * info.width * sizeof(float);
        if (view.memory == Memory::kHOST)
        {
            // One copy into pinned staging (the source may be pageable), then one async upload per chunk.
            mStaging.reserve(sample * n, mapped);
            std::memcpy(mStaging.host(), view.data, sample * n);
            const uint8_t* src = mapped ? mStaging.device() : mStaging.host();
            return runChunks(n, [&](int32_t start, int32_t count) {
                check(cudaMemcpyAsync(mInput.get(), src + sample * start, sample * count,
                          mapped ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice, mStream),
                    "cudaMemcpyAsync (input)");
            });
        }
        if (view.producerStream != 0)
        {
            check(cudaEventRecord(mProducer, reinterpret_cast<cudaStream_t>(view.producerStream)), "cudaEventRecord");
            check(cudaStreamWaitEvent(mStream, mProducer, 0), "cudaStreamWaitEvent");
        }
        const auto* base = static_cast<const uint8_t*>(view.data);
        if (view.dtype == DType::kFLOAT32)
        {
            // A device-to-device copy rather than binding the caller's pointer: the captured graphs keep fixed
            // addresses, and the copy costs ~1-2 us per batch of 32 on current GPUs.
            return runChunks(n, [&](int32_t start, int32_t count) {
                check(cudaMemcpyAsync(mInput.get(), base + sample * start, sample * count, cudaMemcpyDeviceToDevice,
                          mStream),
                    "cudaMemcpyAsync (input)");
            });
        }
        // uint8 images already on the device: only the descriptors travel; the kernel reads the caller's strides.
        const size_t descBytes = alignUp(static_cast<size_t>(n) * sizeof(ImageDesc), 256);
        mStaging.reserve(descBytes, mapped);
        auto* descs = reinterpret_cast<ImageDesc*>(mStaging.host());
        for (int32_t i = 0; i < n; ++i)
        {
            ImageDesc d;
            d.offset = i * view.strides[0];
            d.height = static_cast<int32_t>(view.shape[1]);
            d.width = static_cast<int32_t>(view.shape[2]);
            d.channels = static_cast<int32_t>(view.shape[3]);
            d.strideY = view.strides[1];
            d.strideX = view.strides[2];
            d.strideC = view.strides[3];
            descs[i] = d;
        }
        const ImageDesc* dDescs = reinterpret_cast<const ImageDesc*>(mStaging.device());
        if (!mapped)
        {
            mDeviceStaging.reserve(descBytes);
            check(cudaMemcpyAsync(mDeviceStaging.get(), descs, descBytes, cudaMemcpyHostToDevice, mStream),
                "cudaMemcpyAsync (descriptors)");
            dDescs = reinterpret_cast<const ImageDesc*>(mDeviceStaging.get());
        }
        return runChunks(n, [&](int32_t start, int32_t count) { preprocess(base, dDescs + start, count, inputIsRgb); });
    }
};

// -- PendingResult -----------------------------------------------------------------------------------------------

PendingResult::PendingResult() = default;
PendingResult::~PendingResult() = default;
PendingResult::PendingResult(PendingResult&&) noexcept = default;
PendingResult& PendingResult::operator=(PendingResult&&) noexcept = default;

bool PendingResult::valid() const
{
    return mState != nullptr;
}

bool PendingResult::done() const
{
    if (!mState)
    {
        throw std::logic_error("empty PendingResult");
    }
    if (mState->collected || mState->owner == nullptr)
    {
        return true;
    }
    cudaError_t status = cudaEventQuery(mState->owner->mDone);
    if (status == cudaErrorNotReady)
    {
        return false;
    }
    check(status, "cudaEventQuery");
    return true;
}

const Decoded& PendingResult::get()
{
    if (!mState)
    {
        throw std::logic_error("empty PendingResult");
    }
    if (!mState->collected)
    {
        if (mState->owner == nullptr)
        {
            throw std::logic_error("the predictor of this result was closed before the result was collected");
        }
        mState->owner->collect(*mState);
    }
    return mState->result;
}

// -- Predictor ---------------------------------------------------------------------------------------------------

Predictor::Predictor(const std::string& enginePath, const PredictorOptions& options)
    : mImpl(std::make_unique<Impl>(loadEngine(enginePath, options), options.cudaGraphs))
{
}

Predictor::Predictor(std::unique_ptr<Impl> impl)
    : mImpl(std::move(impl))
{
}

Predictor::~Predictor()
{
    close();
}

Predictor::Predictor(Predictor&&) noexcept = default;

Predictor& Predictor::operator=(Predictor&& other) noexcept
{
    if (this != &other)
    {
        close();
        mImpl = std::move(other.mImpl);
    }
    return *this;
}

namespace
{
template <typename T>
T& open(const std::unique_ptr<T>& impl)
{
    if (!impl)
    {
        throw std::logic_error("this Predictor has been closed");
    }
    return *impl;
}
} // namespace

Predictor Predictor::clone() const
{
    Impl& impl = open(mImpl);
    return Predictor(std::make_unique<Impl>(impl.mShared, impl.mUseGraphs));
}

const EngineInfo& Predictor::info() const
{
    return open(mImpl).info();
}

bool Predictor::integratedGpu() const
{
    return open(mImpl).mShared->integrated;
}

uintptr_t Predictor::cudaStream() const
{
    return reinterpret_cast<uintptr_t>(open(mImpl).mStream);
}

bool Predictor::cudaGraphs() const
{
    return open(mImpl).mUseGraphs;
}

std::vector<int32_t> Predictor::graphBatchSizes() const
{
    std::vector<int32_t> sizes;
    for (const auto& shaped : open(mImpl).mGraphs)
    {
        if (shaped.second.exec != nullptr)
        {
            sizes.push_back(shaped.first);
        }
    }
    return sizes;
}

PendingResult Predictor::submit(const std::vector<ImageView>& images, bool inputIsRgb)
{
    return open(mImpl).submitImages(images, inputIsRgb);
}

PendingResult Predictor::submit(const TensorView& batch, bool inputIsRgb)
{
    return open(mImpl).submitTensor(batch, inputIsRgb);
}

Decoded Predictor::run(const std::vector<ImageView>& images, bool inputIsRgb)
{
    PendingResult pending = submit(images, inputIsRgb);
    return pending.get();
}

Decoded Predictor::run(const TensorView& batch, bool inputIsRgb)
{
    PendingResult pending = submit(batch, inputIsRgb);
    return pending.get();
}

std::vector<TextResult> Predictor::texts(const Decoded& decoded) const
{
    const EngineInfo& info = open(mImpl).info();
    std::vector<TextResult> out(decoded.batch);
    for (int32_t i = 0; i < decoded.batch; ++i)
    {
        // Class c > 0 is charset[c - 1] (the recognizer's table; the blank is already dropped by the decoder).
        for (int32_t t = 0; t < decoded.steps; ++t)
        {
            int32_t c = decoded.indices[static_cast<size_t>(i) * decoded.steps + t];
            if (c > 0 && c <= static_cast<int32_t>(info.characters.size()))
            {
                out[i].text += info.characters[c - 1];
            }
        }
        out[i].confidence = decoded.confidences[i];
    }
    return out;
}

void Predictor::close()
{
    if (!mImpl)
    {
        return;
    }
    if (mImpl->mInFlight)
    {
        try
        {
            auto pending = mImpl->mInFlight;
            mImpl->collect(*pending); // its PendingResult keeps the outputs
        }
        catch (const std::exception&)
        {
            mImpl->mInFlight->owner = nullptr; // the batch failed; get() reports the closed predictor
        }
    }
    mImpl.reset();
}

bool Predictor::closed() const
{
    return !mImpl;
}

std::string tensorrtLibraryVersion(const PredictorOptions& options)
{
    return probeTensorRTVersion(options.libnvinferPath);
}

} // namespace starnet
