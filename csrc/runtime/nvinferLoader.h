// TensorRT and the plugin library loaded with dlopen at run time, never linked: libstarnet_runtime and the Python
// module build against TensorRT's headers alone (everything in TensorRT's C++ API but three C entry points is a
// virtual interface), start on machines without TensorRT, and report its absence as a clear error.
#pragma once

#include "starnet/predictor.h"

#include <NvInferRuntime.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace starnet
{

//! Collects TensorRT's messages: errors are kept (for exception messages) and printed; warnings and info only
//! with STARNET_TRT_LOG=warning|info|verbose.
class TrtLogger : public nvinfer1::ILogger
{
public:
    TrtLogger();
    void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override;
    //! The errors logged since the last call, joined with " | ".
    std::string takeErrors();

private:
    std::mutex mMutex;
    std::vector<std::string> mErrors;
    Severity mPrintUpTo{Severity::kERROR};
};

//! The loaded libnvinfer, its IRuntime and the plugin library, shared by every predictor of the process. Kept
//! until exit: unloading TensorRT while plugin creators or engines may still refer to it is not safe.
struct TrtLibrary
{
    void* handle{nullptr};
    std::string path;
    std::string version; //!< "10.16.0" from getInferLibVersion()
    TrtLogger logger;
    nvinfer1::IRuntime* runtime{nullptr};
    std::mutex mutex; //!< serializes deserialization and plugin loading
    std::string pluginPath;
    std::vector<EngineInfo::Plugin> plugins; //!< creators the loaded plugin library provides
};

//! Loads libnvinfer (once; later calls return the same library) and creates its IRuntime. Throws
//! std::runtime_error saying what was tried and how to install TensorRT.
TrtLibrary& loadTensorRT(const std::string& explicitPath);

//! Opens libnvinfer only to read its version (no IRuntime). Throws std::runtime_error like loadTensorRT.
std::string probeTensorRTVersion(const std::string& explicitPath);

//! Loads the starnet-trt plugin library into `trt`'s plugin registry (once) and records its creators. Throws
//! std::runtime_error when it cannot be found or loaded.
void loadPlugins(TrtLibrary& trt, const std::string& explicitPath);

} // namespace starnet
