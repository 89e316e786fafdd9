// The one place the plugins are registered. libstarnet_plugins.so exports the entry points TensorRT looks for
// when it loads a plugin library (trtexec --dynamicPlugins, IPluginRegistry::loadLibrary, our builder):
// setLoggerFinder and getCreators. starnetRegisterPlugins() registers the same creators in a registry directly,
// for applications that link the library.
#include "plugins/common/pluginCommon.h"
#include "plugins/ctcGreedyDecode/ctcGreedyDecodePlugin.h"
#include "plugins/tpsGridSample/tpsGridSamplePlugin.h"

#include <NvInferRuntime.h>

#if defined(_WIN32)
#define STARNET_PLUGIN_API __declspec(dllexport)
#else
#define STARNET_PLUGIN_API __attribute__((visibility("default")))
#endif

namespace
{

nvinfer1::IPluginCreatorInterface* const* creatorList(int32_t& count) noexcept
{
    static starnet::plugin::TpsGridSampleCreator tps;
    static starnet::plugin::CtcGreedyDecodeCreator ctc;
    static nvinfer1::IPluginCreatorInterface* const creators[] = {&tps, &ctc};
    count = static_cast<int32_t>(sizeof(creators) / sizeof(creators[0]));
    return creators;
}

} // namespace

extern "C"
{

STARNET_PLUGIN_API void setLoggerFinder(nvinfer1::ILoggerFinder* finder)
{
    starnet::plugin::setLoggerFinder(finder);
}

STARNET_PLUGIN_API nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators)
{
    return creatorList(nbCreators);
}

//! Registers every creator in `registry` (e.g. getPluginRegistry()); returns how many were newly registered.
STARNET_PLUGIN_API int32_t starnetRegisterPlugins(nvinfer1::IPluginRegistry* registry)
{
    int32_t count = 0;
    int32_t registered = 0;
    nvinfer1::IPluginCreatorInterface* const* creators = creatorList(count);
    for (int32_t i = 0; registry != nullptr && i < count; ++i)
    {
        registered += registry->registerCreator(*creators[i], starnet::plugin::kPLUGIN_NAMESPACE) ? 1 : 0;
    }
    return registered;
}

} // extern "C"
