// starnet-trt C++ runtime: run a STAR-Net TensorRT engine built by `starnet-trt build` (NAME.engine + NAME.json).
//
//   starnet::Predictor predictor("engines/starnet_mv3.fp16.engine");
//   std::vector<starnet::ImageView> images = ...;          // uint8 HxWxC, BGR, any sizes
//   for (const auto& r : predictor.texts(predictor.run(images))) std::cout << r.text << '\n';
//
// TensorRT (libnvinfer) and the plugin library are loaded with dlopen when a Predictor is created, so programs
// linking libstarnet_runtime start on machines without TensorRT and get a clear std::runtime_error instead.
//
// Threads: a Predictor (its execution context, CUDA stream and staging buffers) is used by one thread at a time;
// calls from several threads on one Predictor must be serialized by the caller. For parallelism give each thread
// its own clone(): clones share the deserialized engine (read-only, thread-safe in TensorRT) and own a new
// execution context, stream and buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace starnet
{

//! How to find TensorRT, the plugins and the device. Empty strings mean "the default".
struct PredictorOptions
{
    //! Default: the engine path with its suffix replaced by ".json".
    std::string sidecarPath;
    //! Default: $STARNET_TRT_LIBNVINFER, else libnvinfer.so.10, libnvinfer.so.11, libnvinfer.so (the loader's path).
    std::string libnvinferPath;
    //! Default: $STARNET_TRT_PLUGINS, else libstarnet_plugins.so beside libstarnet_runtime, else the loader's path.
    //! Only loaded when the sidecar lists plugins.
    std::string pluginLibraryPath;
    int32_t device{0};
    //! Capture enqueue + decode in one CUDA graph per batch size (after a warm-up run of that size).
    bool cudaGraphs{true};
};

//! What an engine is, from its sidecar and (once loaded) the engine itself.
struct EngineInfo
{
    std::string enginePath;
    std::string charset;                 //!< UTF-8; class i > 0 is the (i-1)-th code point
    std::vector<std::string> characters; //!< charset split into code points
    int32_t blankIndex{0};
    std::string output;                  //!< "probs" or "logits" (the model's last tensor)
    std::string precision;
    std::string inputName;
    //! "keep_ratio_pad_right" (PaddleOCR resize_norm_img, cv2 bilinear) or "stretch" (DTRB: PIL bicubic to the full
    //! input size; 1-channel models take PIL's gray before the resize), as starnet_trt.metadata.Preprocess says.
    std::string resize{"keep_ratio_pad_right"};
    int32_t channels{3};
    int32_t height{32};
    int32_t width{100};
    int32_t minBatch{1};
    int32_t optBatch{1};
    int32_t maxBatch{1};
    int32_t steps{0};   //!< T of the outputs (0 until known: from the sidecar, or the engine once loaded)
    int32_t classes{0}; //!< blank + charset
    bool decodePlugin{false}; //!< the engine ends in StarNetCTCGreedyDecode (indices/lengths/confidence outputs)
    std::string tensorrtFlavour;
    std::string tensorrtVersion;
    std::vector<std::string> computeCapabilities; //!< e.g. {"8.6", "9.0"}; empty: not recorded
    struct Plugin
    {
        std::string name;
        std::string version;
        std::string nameSpace;
    };
    std::vector<Plugin> plugins;
    std::string engineSha256;
    int64_t engineBytes{-1};
};

//! Where a tensor's memory is.
enum class Memory : int32_t
{
    kHOST = 0,
    kDEVICE = 1
};

//! Element types accepted as input.
enum class DType : int32_t
{
    kUINT8 = 0,
    kFLOAT32 = 1
};

//! A strided tensor someone else owns (byte strides, may be negative). Accepted layouts:
//! uint8 [N, H, W, C] (C 1, 3 or 4: gray, BGR, BGRA), raw pixels preprocessed on the GPU, or
//! float32 [N, C, H, W] already normalized to the engine's input shape.
struct TensorView
{
    const void* data{nullptr};
    DType dtype{DType::kUINT8};
    Memory memory{Memory::kHOST};
    int32_t deviceId{-1}; //!< -1: ask the driver (Predictor checks device pointers with cudaPointerGetAttributes)
    int32_t ndim{0};
    int64_t shape[4]{};
    int64_t strides[4]{};
    //! For device tensors: the stream the producer wrote it on (0: none to wait for). The predictor's stream waits
    //! for the work queued on it so far.
    uintptr_t producerStream{0};
};

//! One host image, uint8 HxWxC (C 1, 3 or 4), byte strides (may be negative, e.g. a flipped NumPy view).
struct ImageView
{
    const uint8_t* data{nullptr};
    int32_t height{0};
    int32_t width{0};
    int32_t channels{3};
    int64_t strideY{0};
    int64_t strideX{0};
    int64_t strideC{1};
};

//! Decoded CTC output: indices [batch, steps] (class ids, -1 padding), lengths [batch] (-1: the scores held NaN),
//! confidences [batch] (mean of the kept maxima).
struct Decoded
{
    int32_t batch{0};
    int32_t steps{0};
    std::vector<int32_t> indices;
    std::vector<int32_t> lengths;
    std::vector<float> confidences;
};

struct TextResult
{
    std::string text;
    float confidence{0.0F};
};

//! Checks an engine file against its sidecar without any GPU or TensorRT: the sidecar is a starnet-trt sidecar,
//! the engine bytes are complete (engine_bytes) and match engine_sha256, the flavour is NVIDIA TensorRT (not
//! TensorRT-RTX). Throws std::invalid_argument (mismatch, corrupt sidecar) or std::runtime_error (unreadable file).
EngineInfo inspectEngine(const std::string& enginePath, const std::string& sidecarPath = {});

//! Refuses an engine built for another TensorRT (major.minor), another GPU (compute capability, "" skips the
//! check) or plugins that `available` (name -> version) lacks. Throws std::invalid_argument saying what the engine
//! was built for and what is here. Predictor calls it with the loaded library's version and the device's.
void checkEngineEnvironment(const EngineInfo& info, const std::string& tensorrtVersion,
    const std::string& computeCapability, const std::vector<EngineInfo::Plugin>& available);

//! Validates an input tensor against the engine (layout, dtype, strides, sizes, batch >= 1) without touching it.
//! Throws std::invalid_argument naming expected vs got. Batches above the profile max are fine (split).
void checkInput(const EngineInfo& info, const TensorView& view);
void checkImages(const std::vector<ImageView>& images);

//! The version of the libnvinfer that options would load ("10.16.0"); throws std::runtime_error when there is none.
std::string tensorrtLibraryVersion(const PredictorOptions& options = {});
//! CUDA devices visible to this process (0 without a driver or GPU); never throws.
int32_t cudaDeviceCount() noexcept;

class Predictor;

//! A submitted batch (Predictor::submit). get() waits for it and returns its outputs; done() polls.
class PendingResult
{
public:
    PendingResult();
    ~PendingResult();
    PendingResult(PendingResult&&) noexcept;
    PendingResult& operator=(PendingResult&&) noexcept;
    PendingResult(const PendingResult&) = delete;
    PendingResult& operator=(const PendingResult&) = delete;

    bool done() const;
    //! Waits for the GPU work and returns the outputs (once; later calls return the same outputs).
    const Decoded& get();
    bool valid() const;

private:
    friend class Predictor;
    struct State;
    std::shared_ptr<State> mState;
};

class Predictor
{
public:
    //! Loads `enginePath` after checking it against its sidecar (inspectEngine), TensorRT's version and the
    //! device (checkEngineEnvironment). Throws std::invalid_argument for a mismatch, std::runtime_error when
    //! TensorRT, the plugin library or a CUDA device is missing (the message says how to fix it).
    explicit Predictor(const std::string& enginePath, const PredictorOptions& options = {});
    ~Predictor();
    Predictor(Predictor&&) noexcept;
    Predictor& operator=(Predictor&&) noexcept;
    //! Not copyable: a copy would share one execution context and stream between two owners. Use clone().
    Predictor(const Predictor&) = delete;
    Predictor& operator=(const Predictor&) = delete;

    //! A predictor sharing this one's engine, with its own execution context, stream, buffers and graphs.
    Predictor clone() const;

    const EngineInfo& info() const;
    bool integratedGpu() const;
    //! This predictor's CUDA stream (cudaStream_t as an integer): order your own work after its batches with it.
    uintptr_t cudaStream() const;
    bool cudaGraphs() const;
    //! Batch sizes with a captured CUDA graph.
    std::vector<int32_t> graphBatchSizes() const;

    //! Host images of any sizes: packed once into pinned memory, resized/normalized on the GPU.
    Decoded run(const std::vector<ImageView>& images, bool inputIsRgb = false);
    //! uint8 NHWC or float32 NCHW, host or device memory (see TensorView).
    Decoded run(const TensorView& batch, bool inputIsRgb = false);

    //! Asynchronous forms: the work is queued on this predictor's stream and the call returns. Host inputs are
    //! copied before it returns; device inputs must stay valid until the result is done. Submitting again first
    //! completes the previous batch (its PendingResult keeps its outputs), so one batch is in flight at a time.
    PendingResult submit(const std::vector<ImageView>& images, bool inputIsRgb = false);
    PendingResult submit(const TensorView& batch, bool inputIsRgb = false);

    //! Charset lookup of decoded outputs.
    std::vector<TextResult> texts(const Decoded& decoded) const;

    //! Frees the context, stream, buffers and graphs (the engine once no clone uses it). Idempotent; any other
    //! call afterwards throws std::logic_error.
    void close();
    bool closed() const;

private:
    friend class PendingResult;
    struct Impl;
    explicit Predictor(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> mImpl;
};

} // namespace starnet
