#include "plugins/tpsGridSample/tpsGridSamplePlugin.h"

#include "cuda/tpsGridSample.h"

#include <memory>

using namespace nvinfer1;

namespace starnet
{
namespace plugin
{

tps::Padding TpsAttributes::padding() const
{
    return paddingMode == "border" ? tps::Padding::kBORDER : tps::Padding::kZEROS;
}

void TpsAttributes::validate() const
{
    if (outHeight < 1 || outWidth < 1 || static_cast<int64_t>(outHeight) * outWidth > INT32_MAX)
    {
        throw PluginError("out_height/out_width must be positive with fewer than 2^31 pixels, got "
            + std::to_string(outHeight) + "x" + std::to_string(outWidth));
    }
    if (alignCorners != 0 && alignCorners != 1)
    {
        throw PluginError("align_corners must be 0 or 1, got " + std::to_string(alignCorners));
    }
    if (paddingMode != "zeros" && paddingMode != "border")
    {
        throw PluginError("padding_mode must be 'zeros' or 'border', got '" + paddingMode + "'");
    }
}

TpsGridSamplePlugin::TpsGridSamplePlugin(TpsAttributes attributes)
    : mAttributes(std::move(attributes))
{
    mAttributes.validate();
}

int32_t TpsGridSamplePlugin::getNbOutputs() const noexcept
{
    return 1;
}

namespace
{

//! (image, fiducials) with the rows on the fly, or (image, fiducials, table) in table mode.
bool validArity(int32_t nbInputs, int32_t nbOutputs)
{
    return (nbInputs == 2 || nbInputs == 3) && nbOutputs == 1;
}

constexpr char const* kARITY = "expected inputs (image, fiducials[, table]) and one output";

} // namespace

int32_t TpsGridSamplePlugin::getOutputDataTypes(
    DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes, int32_t nbInputs) const noexcept
{
    if (!validArity(nbInputs, nbOutputs))
    {
        log(ILogger::Severity::kERROR, std::string("StarNetTPSGridSample: ") + kARITY);
        return -1;
    }
    outputTypes[0] = inputTypes[0];
    return 0;
}

int32_t TpsGridSamplePlugin::getOutputShapes(DimsExprs const* inputs, int32_t nbInputs,
    DimsExprs const* /*shapeInputs*/, int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs,
    IExprBuilder& exprBuilder) noexcept
{
    return guarded<int32_t>(kTPS_PLUGIN_NAME, -1, [&]() -> int32_t {
        if (!validArity(nbInputs, nbOutputs))
        {
            throw PluginError(kARITY);
        }
        if (inputs[0].nbDims != 4)
        {
            throw PluginError("image must be [N, C, H, W], got rank " + std::to_string(inputs[0].nbDims));
        }
        if (inputs[1].nbDims != 3)
        {
            throw PluginError("fiducials must be [N, F, 2], got rank " + std::to_string(inputs[1].nbDims));
        }
        if (nbInputs == 3 && inputs[2].nbDims != 2)
        {
            throw PluginError("table must be [out_height * out_width, F], got rank " + std::to_string(inputs[2].nbDims));
        }
        outputs[0].nbDims = 4;
        outputs[0].d[0] = inputs[0].d[0];
        outputs[0].d[1] = inputs[0].d[1];
        outputs[0].d[2] = exprBuilder.constant(mAttributes.outHeight);
        outputs[0].d[3] = exprBuilder.constant(mAttributes.outWidth);
        return 0;
    });
}

bool TpsGridSamplePlugin::supportsFormatCombination(
    int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs, int32_t nbOutputs) noexcept
{
    if (!validArity(nbInputs, nbOutputs) || pos < 0 || pos > nbInputs)
    {
        return false;
    }
    PluginTensorDesc const& desc = inOut[pos].desc;
    if (desc.format != TensorFormat::kLINEAR)
    {
        return false;
    }
    const bool floating = desc.type == DataType::kFLOAT || desc.type == DataType::kHALF;
    if (pos == nbInputs)
    {
        return desc.type == inOut[0].desc.type; // output follows the image
    }
    switch (pos)
    {
    case 0: return floating;                 // image
    case 1: return floating;                 // fiducials, independent of the image's type
    default: return desc.type == DataType::kFLOAT; // table: float32 rows, as the on-the-fly mode rounds them
    }
}

void TpsGridSamplePlugin::checkTable(Dims const& table, int64_t numFiducials) const
{
    int64_t const pixels = static_cast<int64_t>(mAttributes.outHeight) * mAttributes.outWidth;
    bool const rowsOk = table.nbDims == 2 && (table.d[0] < 0 || table.d[0] == pixels);
    bool const colsOk = table.nbDims == 2 && (table.d[1] < 0 || numFiducials < 0 || table.d[1] == numFiducials);
    if (!rowsOk || !colsOk)
    {
        std::string got = "rank " + std::to_string(table.nbDims);
        if (table.nbDims == 2)
        {
            got = "[" + std::to_string(table.d[0]) + ", " + std::to_string(table.d[1]) + "]";
        }
        throw PluginError("table must be [out_height * out_width, F] = [" + std::to_string(pixels) + ", "
            + std::to_string(numFiducials) + "], got " + got);
    }
}

void TpsGridSamplePlugin::prepare(int64_t numFiducials)
{
    if (numFiducials < 0)
    {
        return; // dynamic at build time; checked again in onShapeChange
    }
    if (numFiducials < tps::kMIN_FIDUCIALS || numFiducials > tps::kMAX_FIDUCIALS || numFiducials % 2 != 0)
    {
        throw PluginError("fiducials must hold an even number of points in [4, 32], got " + std::to_string(numFiducials));
    }
    if (numFiducials != mNumFiducials)
    {
        if (!tps::inverseDelta(static_cast<int32_t>(numFiducials), mInverse.values))
        {
            throw PluginError("cannot invert the TPS system for F = " + std::to_string(numFiducials));
        }
        mNumFiducials = static_cast<int32_t>(numFiducials);
    }
}

int32_t TpsGridSamplePlugin::configurePlugin(
    DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* /*out*/, int32_t nbOutputs) noexcept
{
    return guarded<int32_t>(kTPS_PLUGIN_NAME, -1, [&]() -> int32_t {
        if (!validArity(nbInputs, nbOutputs))
        {
            throw PluginError(kARITY);
        }
        Dims const& fid = in[1].desc.dims;
        if (fid.nbDims != 3 || (fid.d[2] >= 0 && fid.d[2] != 2))
        {
            throw PluginError("fiducials must be [N, F, 2]");
        }
        if (nbInputs == 3)
        {
            checkTable(in[2].desc.dims, fid.d[1]);
        }
        prepare(fid.d[1]);
        return 0;
    });
}

size_t TpsGridSamplePlugin::getWorkspaceSize(DynamicPluginTensorDesc const* /*inputs*/, int32_t /*nbInputs*/,
    DynamicPluginTensorDesc const* /*outputs*/, int32_t /*nbOutputs*/) const noexcept
{
    return 0; // the grid is never stored; inv(delta_C) travels as a kernel parameter
}

int32_t TpsGridSamplePlugin::onShapeChange(
    PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* /*out*/, int32_t nbOutputs) noexcept
{
    return guarded<int32_t>(kTPS_PLUGIN_NAME, -1, [&]() -> int32_t {
        if (!validArity(nbInputs, nbOutputs) || in[0].dims.nbDims != 4 || in[1].dims.nbDims != 3)
        {
            throw PluginError("expected image [N, C, H, W], fiducials [N, F, 2] and optionally table [H*W, F]");
        }
        if (in[1].dims.d[0] != in[0].dims.d[0] || in[1].dims.d[2] != 2)
        {
            throw PluginError("fiducials must be [N, F, 2] with the image's N");
        }
        if (nbInputs == 3)
        {
            checkTable(in[2].dims, in[1].dims.d[1]);
        }
        mTableMode = nbInputs == 3;
        prepare(in[1].dims.d[1]);
        return 0;
    });
}

int32_t TpsGridSamplePlugin::enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* /*outputDesc*/,
    void const* const* inputs, void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept
{
    Dims const& image = inputDesc[0].dims;
    TpsShape shape;
    shape.batch = image.d[0];
    shape.channels = static_cast<int32_t>(image.d[1]);
    shape.inHeight = static_cast<int32_t>(image.d[2]);
    shape.inWidth = static_cast<int32_t>(image.d[3]);
    shape.numFiducials = mNumFiducials;
    shape.outHeight = mAttributes.outHeight;
    shape.outWidth = mAttributes.outWidth;
    shape.alignCorners = mAttributes.alignCorners != 0;
    shape.padding = mAttributes.padding();
    if (inputDesc[1].dims.d[1] != mNumFiducials)
    {
        log(ILogger::Severity::kERROR, "StarNetTPSGridSample: enqueue without onShapeChange for this F");
        return -1;
    }
    bool const imageHalf = inputDesc[0].type == DataType::kHALF;
    bool const fiducialsHalf = inputDesc[1].type == DataType::kHALF;
    // Table mode when the graph passes the TPS matrix (a build-time constant): no double-precision work per launch.
    cudaError_t const status = mTableMode
        ? launchTpsGridSampleTable(shape, static_cast<float const*>(inputs[2]), inputs[0], imageHalf, inputs[1],
            fiducialsHalf, outputs[0], stream)
        : launchTpsGridSample(shape, mInverse, inputs[0], imageHalf, inputs[1], fiducialsHalf, outputs[0], stream);
    if (status != cudaSuccess)
    {
        log(ILogger::Severity::kERROR, std::string("StarNetTPSGridSample: ") + cudaGetErrorString(status));
        return -1;
    }
    return 0;
}

PluginFieldCollection const* TpsGridSamplePlugin::getFieldsToSerialize() noexcept
{
    mSerialized.clear();
    mSerialized.add("out_height", &mAttributes.outHeight, PluginFieldType::kINT32, 1);
    mSerialized.add("out_width", &mAttributes.outWidth, PluginFieldType::kINT32, 1);
    mSerialized.add("align_corners", &mAttributes.alignCorners, PluginFieldType::kINT32, 1);
    mSerialized.add("padding_mode", mAttributes.paddingMode.c_str(), PluginFieldType::kCHAR,
        static_cast<int32_t>(mAttributes.paddingMode.size()));
    return mSerialized.collection();
}

TpsGridSampleCreator::TpsGridSampleCreator()
{
    mFieldNames.add("out_height", nullptr, PluginFieldType::kINT32, 1);
    mFieldNames.add("out_width", nullptr, PluginFieldType::kINT32, 1);
    mFieldNames.add("align_corners", nullptr, PluginFieldType::kINT32, 1);
    mFieldNames.add("padding_mode", nullptr, PluginFieldType::kCHAR, 0);
}

IPluginV3* TpsGridSampleCreator::createPlugin(
    char const* name, PluginFieldCollection const* fc, TensorRTPhase /*phase*/) noexcept
{
    std::string const where = std::string(kTPS_PLUGIN_NAME) + " '" + (name != nullptr ? name : "") + "'";
    return guarded<IPluginV3*>(where.c_str(), nullptr, [&]() -> IPluginV3* {
        if (fc == nullptr || (fc->nbFields > 0 && fc->fields == nullptr))
        {
            throw PluginError("no attributes");
        }
        TpsAttributes a;
        bool haveHeight = false;
        bool haveWidth = false;
        for (int32_t i = 0; i < fc->nbFields; ++i)
        {
            PluginField const& f = fc->fields[i];
            std::string const key = f.name != nullptr ? f.name : "";
            if (key == "out_height")
            {
                a.outHeight = fieldInt32(f);
                haveHeight = true;
            }
            else if (key == "out_width")
            {
                a.outWidth = fieldInt32(f);
                haveWidth = true;
            }
            else if (key == "align_corners")
            {
                a.alignCorners = fieldInt32(f);
            }
            else if (key == "padding_mode")
            {
                a.paddingMode = fieldString(f);
            }
        }
        if (!haveHeight || !haveWidth)
        {
            throw PluginError("attributes out_height and out_width are required");
        }
        return new TpsGridSamplePlugin(a);
    });
}

} // namespace plugin
} // namespace starnet
