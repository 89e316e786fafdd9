// StarNetCTCGreedyDecode: argmax + collapse + blank removal on the GPU, so only [N, T] int32 indices, [N] lengths
// and [N] confidences leave the engine. See README.md in this folder for the tensors, attributes and tolerances.
#pragma once

#include "plugins/common/pluginCommon.h"

#include <NvInferRuntime.h>

namespace starnet
{
namespace plugin
{

constexpr char const* kCTC_PLUGIN_NAME = "StarNetCTCGreedyDecode";

class CtcGreedyDecodePlugin : public PluginV3Base<CtcGreedyDecodePlugin>
{
public:
    static constexpr char const* kName = kCTC_PLUGIN_NAME;

    explicit CtcGreedyDecodePlugin(int32_t blank);
    ~CtcGreedyDecodePlugin() override = default;
    CtcGreedyDecodePlugin(CtcGreedyDecodePlugin const&) = default;
    CtcGreedyDecodePlugin& operator=(CtcGreedyDecodePlugin const&) = delete;

    int32_t getNbOutputs() const noexcept override;
    int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
        nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;
    int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
        nvinfer1::DimsExprs const* shapeInputs, int32_t nbShapeInputs, nvinfer1::DimsExprs* outputs,
        int32_t nbOutputs, nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
        int32_t nbOutputs) noexcept override;
    int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
        nvinfer1::DynamicPluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;

    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::PluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
        void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    void checkClasses(int64_t classes) const;

    int32_t mBlank{0};
};

class CtcGreedyDecodeCreator : public PluginCreatorBase<CtcGreedyDecodeCreator>
{
public:
    static constexpr char const* kName = kCTC_PLUGIN_NAME;

    CtcGreedyDecodeCreator();
    nvinfer1::IPluginV3* createPlugin(char const* name, nvinfer1::PluginFieldCollection const* fc,
        nvinfer1::TensorRTPhase phase) noexcept override;
};

} // namespace plugin
} // namespace starnet
