#include "plugins/ctcGreedyDecode/ctcGreedyDecodePlugin.h"

#include "cuda/ctcGreedyDecode.h"

#include <memory>
#include <string>

using namespace nvinfer1;

namespace starnet
{
namespace plugin
{

CtcGreedyDecodePlugin::CtcGreedyDecodePlugin(int32_t blank)
    : mBlank(blank)
{
    if (blank < 0)
    {
        throw PluginError("blank must be >= 0, got " + std::to_string(blank));
    }
}

int32_t CtcGreedyDecodePlugin::getNbOutputs() const noexcept
{
    return 3;
}

int32_t CtcGreedyDecodePlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const* /*inputTypes*/, int32_t nbInputs) const noexcept
{
    if (nbInputs != 1 || nbOutputs != 3)
    {
        log(ILogger::Severity::kERROR, "StarNetCTCGreedyDecode takes scores and has three outputs");
        return -1;
    }
    outputTypes[0] = DataType::kINT32; // indices
    outputTypes[1] = DataType::kINT32; // lengths
    outputTypes[2] = DataType::kFLOAT; // confidence
    return 0;
}

int32_t CtcGreedyDecodePlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs,
    DimsExprs const* /*shapeInputs*/, int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs,
    IExprBuilder& /*exprBuilder*/) noexcept
{
    return guarded<int32_t>(kCTC_PLUGIN_NAME, -1, [&]() -> int32_t {
        if (nbInputs != 1 || nbOutputs != 3 || inputs[0].nbDims != 3)
        {
            throw PluginError("expected scores [N, T, C] and three outputs");
        }
        outputs[0].nbDims = 2;
        outputs[0].d[0] = inputs[0].d[0];
        outputs[0].d[1] = inputs[0].d[1];
        outputs[1].nbDims = 1;
        outputs[1].d[0] = inputs[0].d[0];
        outputs[2].nbDims = 1;
        outputs[2].d[0] = inputs[0].d[0];
        return 0;
    });
}

bool CtcGreedyDecodePlugin::supportsFormatCombination(
    int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    if (nbInputs != 1 || nbOutputs != 3 || pos < 0 || pos > 3)
    {
        return false;
    }
    PluginTensorDesc const& desc = inOut[pos].desc;
    if (desc.format != TensorFormat::kLINEAR)
    {
        return false;
    }
    switch (pos)
    {
    case 0: return desc.type == DataType::kFLOAT || desc.type == DataType::kHALF;
    case 1:
    case 2: return desc.type == DataType::kINT32;
    default: return desc.type == DataType::kFLOAT;
    }
}

void CtcGreedyDecodePlugin::checkClasses(int64_t classes) const
{
    if (classes >= 0 && mBlank >= classes)
    {
        throw PluginError("blank " + std::to_string(mBlank) + " is not a class of scores with " + std::to_string(classes)
            + " classes");
    }
}

int32_t CtcGreedyDecodePlugin::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* /*out*/, int32_t nbOutputs) noexcept
{
    return guarded<int32_t>(kCTC_PLUGIN_NAME, -1, [&]() -> int32_t {
        if (nbInputs != 1 || nbOutputs != 3 || in[0].desc.dims.nbDims != 3)
        {
            throw PluginError("expected scores [N, T, C] and three outputs");
        }
        checkClasses(in[0].desc.dims.d[2]);
        return 0;
    });
}

size_t CtcGreedyDecodePlugin::getWorkspaceSize(DynamicPluginTensorDesc const* /*inputs*/, int32_t /*nbInputs*/,
    DynamicPluginTensorDesc const* /*outputs*/, int32_t /*nbOutputs*/) const noexcept
{
    return 0; // NaN samples are reported in the outputs (length -1), no flag buffer
}

int32_t CtcGreedyDecodePlugin::onShapeChange(
    PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* /*out*/, int32_t nbOutputs) noexcept
{
    return guarded<int32_t>(kCTC_PLUGIN_NAME, -1, [&]() -> int32_t {
        if (nbInputs != 1 || nbOutputs != 3 || in[0].dims.nbDims != 3)
        {
            throw PluginError("expected scores [N, T, C] and three outputs");
        }
        checkClasses(in[0].dims.d[2]);
        return 0;
    });
}

int32_t CtcGreedyDecodePlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* /*outputDesc*/,
    void const* const* inputs, void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept
{
    Dims const& d = inputDesc[0].dims;
    if (d.d[0] == 0)
    {
        return 0;
    }
    cudaError_t const status = launchCtcGreedyDecode(inputs[0], inputDesc[0].type == DataType::kHALF,
        static_cast<int32_t>(d.d[0]), static_cast<int32_t>(d.d[1]), static_cast<int32_t>(d.d[2]), mBlank,
        static_cast<int32_t*>(outputs[0]), static_cast<int32_t*>(outputs[1]), static_cast<float*>(outputs[2]),
        nullptr, stream);
    if (status != cudaSuccess)
    {
        log(ILogger::Severity::kERROR, std::string("StarNetCTCGreedyDecode: ") + cudaGetErrorString(status));
        return -1;
    }
    return 0;
}

PluginFieldCollection const* CtcGreedyDecodePlugin::getFieldsToSerialize() noexcept
{
    mSerialized.clear();
    mSerialized.add("blank", &mBlank, PluginFieldType::kINT32, 1);
    return mSerialized.collection();
}

CtcGreedyDecodeCreator::CtcGreedyDecodeCreator()
{
    mFieldNames.add("blank", nullptr, PluginFieldType::kINT32, 1);
}

IPluginV3* CtcGreedyDecodeCreator::createPlugin(
    char const* name, PluginFieldCollection const* fc, TensorRTPhase /*phase*/) noexcept
{
    std::string const where = std::string(kCTC_PLUGIN_NAME) + " '" + (name != nullptr ? name : "") + "'";
    return guarded<IPluginV3*>(where.c_str(), nullptr, [&]() -> IPluginV3* {
        if (fc == nullptr || (fc->nbFields > 0 && fc->fields == nullptr))
        {
            throw PluginError("no attributes");
        }
        int32_t blank = 0;
        for (int32_t i = 0; i < fc->nbFields; ++i)
        {
            PluginField const& f = fc->fields[i];
            if (f.name != nullptr && std::string(f.name) == "blank")
            {
                blank = fieldInt32(f);
            }
        }
        return new CtcGreedyDecodePlugin(blank);
    });
}

} // namespace plugin
} // namespace starnet
