#include "plugins/common/pluginCommon.h"

#include <atomic>
#include <cstdio>
#include <cstring>

namespace starnet
{
namespace plugin
{
namespace
{

std::atomic<nvinfer1::ILoggerFinder*> gFinder{nullptr};

} // namespace

void setLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept
{
    gFinder.store(finder);
}

void log(nvinfer1::ILogger::Severity severity, std::string const& message) noexcept
{
    try
    {
        std::string const text = "[starnet plugins] " + message;
        nvinfer1::ILoggerFinder* finder = gFinder.load();
        nvinfer1::ILogger* logger = finder != nullptr ? finder->findLogger() : nullptr;
        if (logger != nullptr)
        {
            logger->log(severity, text.c_str());
        }
        else if (severity <= nvinfer1::ILogger::Severity::kWARNING)
        {
            std::fprintf(stderr, "%s\n", text.c_str());
        }
    }
    catch (...)
    {
    }
}

int64_t fieldInt(nvinfer1::PluginField const& field)
{
    using nvinfer1::PluginFieldType;
    std::string const name = field.name != nullptr ? field.name : "?";
    if (field.data == nullptr || field.length < 1)
    {
        throw PluginError("attribute '" + name + "' has no value");
    }
    switch (field.type)
    {
    case PluginFieldType::kINT8: return *static_cast<int8_t const*>(field.data);
    case PluginFieldType::kINT16: return *static_cast<int16_t const*>(field.data);
    case PluginFieldType::kINT32: return *static_cast<int32_t const*>(field.data);
    case PluginFieldType::kINT64: return *static_cast<int64_t const*>(field.data);
    default: throw PluginError("attribute '" + name + "' must be an integer");
    }
}

int32_t fieldInt32(nvinfer1::PluginField const& field)
{
    int64_t const value = fieldInt(field);
    if (value < INT32_MIN || value > INT32_MAX)
    {
        throw PluginError(
            "attribute '" + std::string(field.name != nullptr ? field.name : "?") + "' is out of the int32 range");
    }
    return static_cast<int32_t>(value);
}

std::string fieldString(nvinfer1::PluginField const& field)
{
    std::string const name = field.name != nullptr ? field.name : "?";
    if (field.type != nvinfer1::PluginFieldType::kCHAR || field.data == nullptr || field.length < 0)
    {
        throw PluginError("attribute '" + name + "' must be a string");
    }
    auto const* chars = static_cast<char const*>(field.data);
    return std::string(chars, strnlen(chars, static_cast<size_t>(field.length)));
}

} // namespace plugin
} // namespace starnet
