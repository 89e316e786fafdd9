// CPU-side checks of libstarnet_plugins against the TensorRT headers it was built with: creator registration and
// field lists, plugin creation from attributes (and refusal of bad ones, logged through setLoggerFinder's
// logger), serialization round trips, format support, output types and configure-time validation. Runs without a
// GPU and without TensorRT's libraries (the plugins only implement TensorRT's interfaces). Exit status 0 = pass.
//
//   cmake -S . -B build/trt -DTensorRT_ROOT=<TensorRT headers> && cmake --build build/trt --target plugin_check
//   build/trt/plugin_check
#include <NvInferRuntime.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace nvinfer1;

extern "C" void setLoggerFinder(ILoggerFinder* finder);
extern "C" IPluginCreatorInterface* const* getCreators(int32_t& nbCreators);

namespace
{

int gFailures = 0;

void expect(bool ok, std::string const& what)
{
    std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    gFailures += ok ? 0 : 1;
}

class CapturingLogger : public ILogger
{
public:
    void log(Severity severity, char const* msg) noexcept override
    {
        if (severity <= Severity::kWARNING)
        {
            messages.emplace_back(msg);
        }
    }
    bool saw(std::string const& text) const
    {
        for (auto const& m : messages)
        {
            if (m.find(text) != std::string::npos)
            {
                return true;
            }
        }
        return false;
    }
    std::vector<std::string> messages;
};

class Finder : public ILoggerFinder
{
public:
    explicit Finder(ILogger* logger)
        : mLogger(logger)
    {
    }
    ILogger* findLogger() override
    {
        return mLogger;
    }

private:
    ILogger* mLogger;
};

IPluginCreatorV3One* creator(char const* name)
{
    int32_t count = 0;
    IPluginCreatorInterface* const* creators = getCreators(count);
    for (int32_t i = 0; i < count; ++i)
    {
        auto* c = static_cast<IPluginCreatorV3One*>(creators[i]);
        if (std::strcmp(c->getPluginName(), name) == 0)
        {
            return c;
        }
    }
    return nullptr;
}

struct Fields
{
    std::vector<PluginField> fields;
    std::vector<std::unique_ptr<int32_t>> ints;
    std::vector<std::string> strings;
    PluginFieldCollection fc{};

    Fields()
    {
        strings.reserve(8);
    }
    Fields& i32(char const* name, int32_t v)
    {
        ints.push_back(std::make_unique<int32_t>(v));
        fields.emplace_back(name, ints.back().get(), PluginFieldType::kINT32, 1);
        return *this;
    }
    Fields& str(char const* name, std::string const& v)
    {
        strings.push_back(v);
        fields.emplace_back(name, strings.back().c_str(), PluginFieldType::kCHAR, static_cast<int32_t>(v.size()));
        return *this;
    }
    PluginFieldCollection const* get()
    {
        fc.nbFields = static_cast<int32_t>(fields.size());
        fc.fields = fields.data();
        return &fc;
    }
};

DynamicPluginTensorDesc desc(DataType type, std::vector<int64_t> dims)
{
    DynamicPluginTensorDesc d{};
    d.desc.type = type;
    d.desc.format = TensorFormat::kLINEAR;
    d.desc.dims.nbDims = static_cast<int32_t>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i)
    {
        d.desc.dims.d[i] = dims[i];
    }
    d.min = d.max = d.opt = d.desc.dims;
    return d;
}

int64_t serializedInt(PluginFieldCollection const* fc, char const* name)
{
    for (int32_t i = 0; i < fc->nbFields; ++i)
    {
        if (std::strcmp(fc->fields[i].name, name) == 0)
        {
            return *static_cast<int32_t const*>(fc->fields[i].data);
        }
    }
    return -999;
}

void checkTps(CapturingLogger& logger)
{
    std::printf("StarNetTPSGridSample\n");
    IPluginCreatorV3One* c = creator("StarNetTPSGridSample");
    expect(c != nullptr, "creator registered");
    if (c == nullptr)
    {
        return;
    }
    expect(std::strcmp(c->getPluginVersion(), "1") == 0, "version 1");
    expect(c->getFieldNames()->nbFields == 4, "four attributes declared");
    Fields f;
    f.i32("out_height", 32).i32("out_width", 100).i32("align_corners", 1).str("padding_mode", "zeros");
    std::unique_ptr<IPluginV3> plugin(c->createPlugin("tps", f.get(), TensorRTPhase::kBUILD));
    expect(plugin != nullptr, "created from valid attributes");
    if (!plugin)
    {
        return;
    }
    auto* build = static_cast<IPluginV3OneBuild*>(plugin->getCapabilityInterface(PluginCapabilityType::kBUILD));
    auto* runtime = static_cast<IPluginV3OneRuntime*>(plugin->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
    expect(build != nullptr && runtime != nullptr, "build and runtime capabilities");
    expect(build->getNbOutputs() == 1, "one output");
    DataType in[2] = {DataType::kHALF, DataType::kFLOAT};
    DataType outType = DataType::kINT8;
    expect(build->getOutputDataTypes(&outType, 1, in, 2) == 0 && outType == DataType::kHALF, "output follows the image type");
    DynamicPluginTensorDesc io[3] = {desc(DataType::kHALF, {-1, 3, 32, 100}), desc(DataType::kFLOAT, {-1, 20, 2}),
        desc(DataType::kHALF, {-1, 3, 32, 100})};
    expect(build->supportsFormatCombination(0, io, 2, 1), "fp16 image supported");
    expect(build->supportsFormatCombination(1, io, 2, 1), "fp32 fiducials with an fp16 image supported");
    expect(build->supportsFormatCombination(2, io, 2, 1), "fp16 output with an fp16 image");
    io[2].desc.type = DataType::kFLOAT;
    expect(!build->supportsFormatCombination(2, io, 2, 1), "fp32 output with an fp16 image refused");
    io[0].desc.type = DataType::kINT8;
    expect(!build->supportsFormatCombination(0, io, 2, 1), "int8 image refused");
    io[0].desc.type = DataType::kFLOAT;
    io[0].desc.format = TensorFormat::kCHW32;
    expect(!build->supportsFormatCombination(0, io, 2, 1), "non-linear format refused");
    io[0] = desc(DataType::kFLOAT, {-1, 3, 32, 100});
    io[2] = desc(DataType::kFLOAT, {-1, 3, 32, 100});
    expect(build->configurePlugin(io, 2, io + 2, 1) == 0, "configure with F = 20");
    io[1] = desc(DataType::kFLOAT, {-1, 19, 2});
    logger.messages.clear();
    expect(build->configurePlugin(io, 2, io + 2, 1) != 0 && logger.saw("even number of points"),
        "odd F refused with a logged reason");
    // Table mode: a third input, the [H*W, F] TPS matrix, float32 only and shape-checked against the attributes.
    DynamicPluginTensorDesc tio[4] = {desc(DataType::kHALF, {-1, 3, 32, 100}), desc(DataType::kFLOAT, {-1, 20, 2}),
        desc(DataType::kFLOAT, {3200, 20}), desc(DataType::kHALF, {-1, 3, 32, 100})};
    expect(build->supportsFormatCombination(2, tio, 3, 1), "table mode: fp32 table supported");
    expect(build->supportsFormatCombination(3, tio, 3, 1), "table mode: output follows the fp16 image");
    tio[2].desc.type = DataType::kHALF;
    expect(!build->supportsFormatCombination(2, tio, 3, 1), "table mode: fp16 table refused");
    tio[2].desc.type = DataType::kFLOAT;
    DataType in3[3] = {DataType::kHALF, DataType::kFLOAT, DataType::kFLOAT};
    outType = DataType::kINT8;
    expect(build->getOutputDataTypes(&outType, 1, in3, 3) == 0 && outType == DataType::kHALF,
        "table mode: output type follows the image");
    expect(build->configurePlugin(tio, 3, tio + 3, 1) == 0, "table mode: configure with a [3200, 20] table");
    tio[2] = desc(DataType::kFLOAT, {3200, 18});
    logger.messages.clear();
    expect(build->configurePlugin(tio, 3, tio + 3, 1) != 0 && logger.saw("table must be"),
        "table mode: a table with the wrong F refused with a logged reason");
    tio[2] = desc(DataType::kFLOAT, {3100, 20});
    logger.messages.clear();
    expect(build->configurePlugin(tio, 3, tio + 3, 1) != 0 && logger.saw("[3200, 20]"),
        "table mode: a table with the wrong pixel count refused, naming the expected shape");
    PluginTensorDesc rt[4] = {tio[0].desc, tio[1].desc, tio[2].desc, tio[3].desc};
    rt[0].dims.d[0] = rt[1].dims.d[0] = rt[3].dims.d[0] = 8;
    rt[2].dims.d[0] = 3200;
    rt[2].dims.d[1] = 20;
    expect(runtime->onShapeChange(rt, 3, rt + 3, 1) == 0, "table mode: onShapeChange accepts the table");
    DataType in4[4] = {DataType::kFLOAT, DataType::kFLOAT, DataType::kFLOAT, DataType::kFLOAT};
    logger.messages.clear();
    expect(build->getOutputDataTypes(&outType, 1, in4, 4) != 0, "four inputs refused");
    PluginFieldCollection const* saved = runtime->getFieldsToSerialize();
    expect(saved != nullptr && saved->nbFields == 4 && serializedInt(saved, "out_width") == 100,
        "serializes its four attributes");
    std::unique_ptr<IPluginV3> restored(c->createPlugin("tps", saved, TensorRTPhase::kRUNTIME));
    expect(restored != nullptr, "deserializes from its own fields");
    std::unique_ptr<IPluginV3> copy(plugin->clone());
    expect(copy != nullptr, "clones");
    Fields bad;
    bad.i32("out_height", 32).i32("out_width", 0);
    logger.messages.clear();
    expect(c->createPlugin("bad", bad.get(), TensorRTPhase::kBUILD) == nullptr && logger.saw("out_height/out_width"),
        "out_width 0 refused");
    Fields mode;
    mode.i32("out_height", 32).i32("out_width", 100).str("padding_mode", "reflection");
    expect(c->createPlugin("bad", mode.get(), TensorRTPhase::kBUILD) == nullptr && logger.saw("padding_mode"),
        "padding_mode 'reflection' refused");
    Fields missing;
    missing.i32("out_height", 32);
    expect(c->createPlugin("bad", missing.get(), TensorRTPhase::kBUILD) == nullptr && logger.saw("required"),
        "missing out_width refused");
    Fields wrongType;
    wrongType.i32("out_height", 32).i32("out_width", 100).i32("padding_mode", 0);
    expect(c->createPlugin("bad", wrongType.get(), TensorRTPhase::kBUILD) == nullptr && logger.saw("must be a string"),
        "padding_mode as an integer refused");
}

void checkCtc(CapturingLogger& logger)
{
    std::printf("StarNetCTCGreedyDecode\n");
    IPluginCreatorV3One* c = creator("StarNetCTCGreedyDecode");
    expect(c != nullptr, "creator registered");
    if (c == nullptr)
    {
        return;
    }
    Fields f;
    f.i32("blank", 0);
    std::unique_ptr<IPluginV3> plugin(c->createPlugin("ctc", f.get(), TensorRTPhase::kBUILD));
    expect(plugin != nullptr, "created");
    if (!plugin)
    {
        return;
    }
    auto* build = static_cast<IPluginV3OneBuild*>(plugin->getCapabilityInterface(PluginCapabilityType::kBUILD));
    expect(build->getNbOutputs() == 3, "three outputs");
    DataType in[1] = {DataType::kHALF};
    DataType out[3] = {DataType::kINT8, DataType::kINT8, DataType::kINT8};
    expect(build->getOutputDataTypes(out, 3, in, 1) == 0 && out[0] == DataType::kINT32 && out[1] == DataType::kINT32
            && out[2] == DataType::kFLOAT,
        "int32 indices, int32 lengths, float confidence");
    DynamicPluginTensorDesc io[4] = {desc(DataType::kHALF, {-1, 25, 37}), desc(DataType::kINT32, {-1, 25}),
        desc(DataType::kINT32, {-1}), desc(DataType::kFLOAT, {-1})};
    bool all = true;
    for (int32_t pos = 0; pos < 4; ++pos)
    {
        all = all && build->supportsFormatCombination(pos, io, 1, 3);
    }
    expect(all, "fp16 scores and int32/float outputs supported");
    io[1].desc.type = DataType::kINT64;
    expect(!build->supportsFormatCombination(1, io, 1, 3), "int64 indices refused");
    io[1].desc.type = DataType::kINT32;
    expect(build->configurePlugin(io, 1, io + 1, 3) == 0, "configure with 37 classes");
    Fields big;
    big.i32("blank", 37);
    std::unique_ptr<IPluginV3> bad(c->createPlugin("ctc", big.get(), TensorRTPhase::kBUILD));
    auto* badBuild = static_cast<IPluginV3OneBuild*>(bad->getCapabilityInterface(PluginCapabilityType::kBUILD));
    logger.messages.clear();
    expect(badBuild->configurePlugin(io, 1, io + 1, 3) != 0 && logger.saw("is not a class"),
        "blank 37 refused for 37 classes");
    Fields negative;
    negative.i32("blank", -1);
    expect(c->createPlugin("ctc", negative.get(), TensorRTPhase::kBUILD) == nullptr, "negative blank refused");
    auto* runtime = static_cast<IPluginV3OneRuntime*>(plugin->getCapabilityInterface(PluginCapabilityType::kRUNTIME));
    PluginFieldCollection const* saved = runtime->getFieldsToSerialize();
    std::unique_ptr<IPluginV3> restored(c->createPlugin("ctc", saved, TensorRTPhase::kRUNTIME));
    expect(saved->nbFields == 1 && serializedInt(saved, "blank") == 0 && restored != nullptr, "serialization round trip");
}

} // namespace

int main()
{
    CapturingLogger logger;
    Finder finder(&logger);
    setLoggerFinder(&finder);
    std::printf("TensorRT headers %d.%d.%d\n", NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH);
    checkTps(logger);
    checkCtc(logger);
    std::printf("%s (%d failure%s)\n", gFailures == 0 ? "PASS" : "FAIL", gFailures, gFailures == 1 ? "" : "s");
    return gFailures == 0 ? 0 : 1;
}
