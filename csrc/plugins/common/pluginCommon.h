// Shared helpers of the starnet TensorRT plugins: logging through TensorRT's logger finder, attribute parsing
// (the ONNX parser and the engine deserializer both hand attributes over as PluginFields), and field lists.
#pragma once

#include <NvInferRuntime.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace starnet
{
namespace plugin
{

constexpr char const* kPLUGIN_VERSION = "1";
constexpr char const* kPLUGIN_NAMESPACE = "";

//! Called by TensorRT (trtexec --dynamicPlugins, IPluginRegistry::loadLibrary) before getCreators.
void setLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept;

//! Logs through TensorRT's logger when one was provided, else to stderr. Never throws.
void log(nvinfer1::ILogger::Severity severity, std::string const& message) noexcept;

//! Thrown by the attribute and shape checks; plugin entry points catch it, log it and report failure.
class PluginError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

//! Integer value of a field of any integer type (ONNX attributes arrive as int32 or int64).
int64_t fieldInt(nvinfer1::PluginField const& field);

//! fieldInt within int32 range, else PluginError naming the attribute.
int32_t fieldInt32(nvinfer1::PluginField const& field);

//! String value of a kCHAR field (with or without a terminating NUL).
std::string fieldString(nvinfer1::PluginField const& field);

//! Owns the PluginField array of a field collection (names must be static strings).
class FieldList
{
public:
    void clear()
    {
        mFields.clear();
    }
    void add(char const* name, void const* data, nvinfer1::PluginFieldType type, int32_t length)
    {
        mFields.emplace_back(name, data, type, length);
    }
    nvinfer1::PluginFieldCollection const* collection() noexcept
    {
        mCollection.nbFields = static_cast<int32_t>(mFields.size());
        mCollection.fields = mFields.data();
        return &mCollection;
    }

private:
    std::vector<nvinfer1::PluginField> mFields;
    nvinfer1::PluginFieldCollection mCollection{};
};

//! Runs `body` and converts any exception into a logged error and `failure` (TensorRT entry points are noexcept).
template <typename T, typename Body>
T guarded(char const* where, T failure, Body&& body) noexcept
{
    try
    {
        return body();
    }
    catch (std::exception const& e)
    {
        log(nvinfer1::ILogger::Severity::kERROR, std::string(where) + ": " + e.what());
    }
    catch (...)
    {
        log(nvinfer1::ILogger::Severity::kERROR, std::string(where) + ": unknown error");
    }
    return failure;
}

//! What every starnet plugin implements the same way: the capability table, name/version/namespace, cloning
//! (copy, fresh serialization buffer) and attachToContext (a clone; the plugins hold no per-context resources).
//! `Derived` declares `static constexpr char const* kName` and is copy-constructible.
template <typename Derived>
class PluginV3Base : public nvinfer1::IPluginV3,
                     public nvinfer1::IPluginV3OneCore,
                     public nvinfer1::IPluginV3OneBuild,
                     public nvinfer1::IPluginV3OneRuntime
{
public:
    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override
    {
        switch (type)
        {
        case nvinfer1::PluginCapabilityType::kBUILD: return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
        case nvinfer1::PluginCapabilityType::kRUNTIME: return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
        case nvinfer1::PluginCapabilityType::kCORE: return static_cast<nvinfer1::IPluginV3OneCore*>(this);
        }
        return nullptr;
    }

    nvinfer1::IPluginV3* clone() noexcept override
    {
        return guarded<nvinfer1::IPluginV3*>(Derived::kName, nullptr, [&]() -> nvinfer1::IPluginV3* {
            auto copy = std::make_unique<Derived>(static_cast<Derived const&>(*this));
            copy->mSerialized = FieldList{};
            return copy.release();
        });
    }

    char const* getPluginName() const noexcept override
    {
        return Derived::kName;
    }

    char const* getPluginVersion() const noexcept override
    {
        return kPLUGIN_VERSION;
    }

    char const* getPluginNamespace() const noexcept override
    {
        return kPLUGIN_NAMESPACE;
    }

    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* /*context*/) noexcept override
    {
        return clone();
    }

protected:
    FieldList mSerialized; //!< backing store of getFieldsToSerialize()
};

//! Creator boilerplate: name/version/namespace and the declared field list (filled by the derived constructor).
template <typename Derived>
class PluginCreatorBase : public nvinfer1::IPluginCreatorV3One
{
public:
    char const* getPluginName() const noexcept override
    {
        return Derived::kName;
    }

    char const* getPluginVersion() const noexcept override
    {
        return kPLUGIN_VERSION;
    }

    char const* getPluginNamespace() const noexcept override
    {
        return kPLUGIN_NAMESPACE;
    }

    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override
    {
        return mFieldNames.collection();
    }

protected:
    FieldList mFieldNames;
};

} // namespace plugin
} // namespace starnet
