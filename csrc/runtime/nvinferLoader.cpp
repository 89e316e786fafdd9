#include "runtime/nvinferLoader.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <stdexcept>

namespace starnet
{
namespace
{

#define STARNET_STR2(x) #x
#define STARNET_STR(x) STARNET_STR2(x)

using CreateRuntimeFn = void* (*) (void*, int32_t);
using VersionFn = int32_t (*)();
using GetCreatorsFn = nvinfer1::IPluginCreatorInterface* const* (*) (int32_t&);

constexpr const char* kINSTALL_HINT
    = "install NVIDIA TensorRT " STARNET_STR(NV_TENSORRT_MAJOR) ".x (pip install 'tensorrt-cu12' or the "
      "'starnet-trt[tensorrt]' extra; on Jetson: JetPack / apt install libnvinfer" STARNET_STR(NV_TENSORRT_MAJOR)
      ") or set STARNET_TRT_LIBNVINFER to the full path of libnvinfer.so";

//! Candidates in order: the explicit path, $STARNET_TRT_LIBNVINFER, then the sonames of the major these headers
//! describe (an engine and our vtable layouts are only valid for it), then the unversioned name.
std::vector<std::string> libnvinferCandidates(const std::string& explicitPath)
{
    if (!explicitPath.empty())
    {
        return {explicitPath};
    }
    if (const char* env = std::getenv("STARNET_TRT_LIBNVINFER"); env != nullptr && *env != '\0')
    {
        return {env};
    }
    return {"libnvinfer.so." + std::to_string(NV_TENSORRT_MAJOR), "libnvinfer.so"};
}

void* openLibnvinfer(const std::string& explicitPath, std::string& chosen)
{
    std::string tried;
    for (const auto& name : libnvinferCandidates(explicitPath))
    {
        // RTLD_GLOBAL: the plugin library TensorRT loads later resolves nothing from it, but TensorRT's own
        // builder resources (libnvinfer_builder_resource) expect the global namespace on some versions.
        if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL))
        {
            chosen = name;
            return handle;
        }
        const char* why = dlerror();
        tried += (tried.empty() ? "" : "; ") + name + ": " + (why ? why : "not found");
    }
    throw std::runtime_error("TensorRT is not installed or not loadable (" + tried + "); " + kINSTALL_HINT);
}

std::string versionOf(void* handle, const std::string& path)
{
    auto fn = reinterpret_cast<VersionFn>(dlsym(handle, "getInferLibVersion"));
    if (fn == nullptr)
    {
        throw std::runtime_error("'" + path + "' is not a TensorRT library (no getInferLibVersion)");
    }
    int32_t v = fn();
    return std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100);
}

void checkMajor(const std::string& version, const std::string& path)
{
    if (std::atoi(version.c_str()) != NV_TENSORRT_MAJOR)
    {
        throw std::runtime_error("'" + path + "' is TensorRT " + version + " but this starnet-trt runtime was built "
            "against TensorRT " STARNET_STR(NV_TENSORRT_MAJOR) ".x headers (the C++ interfaces differ between "
            "majors): install TensorRT " STARNET_STR(NV_TENSORRT_MAJOR) ".x or rebuild starnet-trt with "
            "TensorRT_ROOT pointing at TensorRT " + version);
    }
}

//! The directory holding this shared object (libstarnet_runtime.so or the Python module), with a trailing '/'.
std::string ownDirectory()
{
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&ownDirectory), &info) == 0 || info.dli_fname == nullptr)
    {
        return {};
    }
    std::string path = info.dli_fname;
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

std::vector<std::string> pluginCandidates(const std::string& explicitPath)
{
    if (!explicitPath.empty())
    {
        return {explicitPath};
    }
    if (const char* env = std::getenv("STARNET_TRT_PLUGINS"); env != nullptr && *env != '\0')
    {
        return {env};
    }
    std::string here = ownDirectory();
    return {here + "libstarnet_plugins.so", here + "lib/libstarnet_plugins.so", "libstarnet_plugins.so"};
}

} // namespace

TrtLogger::TrtLogger()
{
    const char* level = std::getenv("STARNET_TRT_LOG");
    std::string text = level ? level : "";
    mPrintUpTo = text == "verbose" ? Severity::kVERBOSE
        : text == "info"           ? Severity::kINFO
        : text == "warning"        ? Severity::kWARNING
                                   : Severity::kERROR;
}

void TrtLogger::log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept
{
    try
    {
        if (severity <= Severity::kERROR)
        {
            std::lock_guard<std::mutex> lock(mMutex);
            if (mErrors.size() < 16)
            {
                mErrors.emplace_back(msg ? msg : "");
            }
        }
        if (severity <= mPrintUpTo)
        {
            std::fprintf(stderr, "[starnet-trt TensorRT] %s\n", msg ? msg : "");
        }
    }
    catch (...)
    {
        // A logger must not throw into TensorRT; losing one message is the only option left.
    }
}

std::string TrtLogger::takeErrors()
{
    std::lock_guard<std::mutex> lock(mMutex);
    std::string out;
    for (const auto& e : mErrors)
    {
        out += (out.empty() ? "" : " | ") + e;
    }
    mErrors.clear();
    return out.empty() ? "no message from TensorRT" : out;
}

std::string probeTensorRTVersion(const std::string& explicitPath)
{
    std::string path;
    void* handle = openLibnvinfer(explicitPath, path);
    std::string version = versionOf(handle, path);
    dlclose(handle);
    return version;
}

TrtLibrary& loadTensorRT(const std::string& explicitPath)
{
    static std::mutex loadMutex;
    static TrtLibrary* library = nullptr; // never freed, see TrtLibrary
    std::lock_guard<std::mutex> lock(loadMutex);
    if (library != nullptr)
    {
        return *library;
    }
    auto lib = std::make_unique<TrtLibrary>();
    lib->handle = openLibnvinfer(explicitPath, lib->path);
    lib->version = versionOf(lib->handle, lib->path);
    checkMajor(lib->version, lib->path);
    auto create = reinterpret_cast<CreateRuntimeFn>(dlsym(lib->handle, "createInferRuntime_INTERNAL"));
    if (create == nullptr)
    {
        throw std::runtime_error("'" + lib->path + "' lacks createInferRuntime_INTERNAL; " + kINSTALL_HINT);
    }
    lib->runtime = static_cast<nvinfer1::IRuntime*>(create(&lib->logger, NV_TENSORRT_VERSION));
    if (lib->runtime == nullptr)
    {
        throw std::runtime_error("TensorRT " + lib->version + " refused to create a runtime: "
            + lib->logger.takeErrors());
    }
    library = lib.release();
    return *library;
}

void loadPlugins(TrtLibrary& trt, const std::string& explicitPath)
{
    std::lock_guard<std::mutex> lock(trt.mutex);
    if (!trt.pluginPath.empty())
    {
        return;
    }
    std::string tried;
    void* handle = nullptr;
    std::string chosen;
    for (const auto& name : pluginCandidates(explicitPath))
    {
        if ((handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) != nullptr)
        {
            chosen = name;
            break;
        }
        const char* why = dlerror();
        tried += (tried.empty() ? "" : "; ") + name + ": " + (why ? why : "not found");
    }
    if (handle == nullptr)
    {
        throw std::runtime_error("the engine uses starnet-trt TensorRT plugins but libstarnet_plugins cannot be loaded ("
            + tried + "): install starnet-trt built with TensorRT (it ships starnet_trt/lib/libstarnet_plugins.so), "
                      "set STARNET_TRT_PLUGINS to its path, or rebuild the engine with '--plugins none'");
    }
    auto getCreators = reinterpret_cast<GetCreatorsFn>(dlsym(handle, "getCreators"));
    if (getCreators == nullptr)
    {
        throw std::runtime_error("'" + chosen + "' is not a TensorRT plugin library (no getCreators)");
    }
    int32_t count = 0;
    nvinfer1::IPluginCreatorInterface* const* creators = getCreators(count);
    std::vector<EngineInfo::Plugin> plugins;
    for (int32_t i = 0; creators != nullptr && i < count; ++i)
    {
        if (creators[i] == nullptr || std::strcmp(creators[i]->getInterfaceInfo().kind, "PLUGIN CREATOR_V3ONE") != 0)
        {
            continue; // our library has V3 creators only; anything else is not ours to describe
        }
        auto* v3 = static_cast<nvinfer1::IPluginCreatorV3One*>(creators[i]);
        plugins.push_back({v3->getPluginName(), v3->getPluginVersion(), v3->getPluginNamespace()});
    }
    // TensorRT's own loader calls setLoggerFinder and registers the creators in this runtime's registry.
    if (trt.runtime->getPluginRegistry().loadLibrary(chosen.c_str()) == nullptr)
    {
        dlclose(handle);
        throw std::runtime_error("TensorRT cannot load the plugin library '" + chosen + "': "
            + trt.logger.takeErrors());
    }
    dlclose(handle); // TensorRT holds its own reference
    trt.plugins = std::move(plugins);
    trt.pluginPath = chosen;
}

} // namespace starnet
