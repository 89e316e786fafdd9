// StarNetTPSGridSample: STAR-Net's TPS rectification (grid from 20 fiducials + bilinear sampling) in one kernel.
// See README.md in this folder for the tensors, attributes and tolerances.
#pragma once

#include "core/tpsGridSampleImpl.h"
#include "plugins/common/pluginCommon.h"

#include <NvInferRuntime.h>

#include <string>

namespace starnet
{
namespace plugin
{

constexpr char const* kTPS_PLUGIN_NAME = "StarNetTPSGridSample";

//! Attributes of the node; validated on construction.
struct TpsAttributes
{
    int32_t outHeight{0};
    int32_t outWidth{0};
    int32_t alignCorners{1};
    std::string paddingMode{"zeros"};

    tps::Padding padding() const;
    void validate() const;
};

class TpsGridSamplePlugin : public PluginV3Base<TpsGridSamplePlugin>
{
public:
    static constexpr char const* kName = kTPS_PLUGIN_NAME;

    explicit TpsGridSamplePlugin(TpsAttributes attributes);
    ~TpsGridSamplePlugin() override = default;
    TpsGridSamplePlugin(TpsGridSamplePlugin const&) = default;
    TpsGridSamplePlugin& operator=(TpsGridSamplePlugin const&) = delete;

    // IPluginV3OneBuild
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

    // IPluginV3OneRuntime
    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
        nvinfer1::PluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
        void const* const* inputs, void* const* outputs, void* workspace, cudaStream_t stream) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    //! Checks the fiducial count F and prepares inv(delta_C) for it (host work, never in enqueue).
    void prepare(int64_t numFiducials);
    //! Throws unless `table` can be [outHeight * outWidth, F] (-1 dimensions pass at build time).
    void checkTable(nvinfer1::Dims const& table, int64_t numFiducials) const;

    TpsAttributes mAttributes;
    int32_t mNumFiducials{0};
    bool mTableMode{false}; //!< the third input (the TPS matrix) is present: set in onShapeChange
    tps::InverseDelta mInverse{};
};

class TpsGridSampleCreator : public PluginCreatorBase<TpsGridSampleCreator>
{
public:
    static constexpr char const* kName = kTPS_PLUGIN_NAME;

    TpsGridSampleCreator();
    nvinfer1::IPluginV3* createPlugin(char const* name, nvinfer1::PluginFieldCollection const* fc,
        nvinfer1::TensorRTPhase phase) noexcept override;
};

} // namespace plugin
} // namespace starnet
