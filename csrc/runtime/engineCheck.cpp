#include "runtime/engineCheck.h"

#include "runtime/miniJson.h"
#include "runtime/sha256.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace starnet
{
namespace
{

using json::Value;

std::string readFile(const std::string& path, const char* what)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        throw std::runtime_error(std::string(what) + " not found or unreadable: '" + path + "'");
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad())
    {
        throw std::runtime_error(std::string("cannot read ") + what + " '" + path + "'");
    }
    return buffer.str();
}

[[noreturn]] void bad(const std::string& sidecar, const std::string& what)
{
    throw std::invalid_argument("'" + sidecar + "' is not a usable starnet-trt engine sidecar: " + what);
}

const Value& member(const Value& object, const char* key, Value::Kind kind, const std::string& sidecar)
{
    const Value* v = object.find(key);
    if (v == nullptr || v->kind != kind)
    {
        bad(sidecar, std::string("'") + key + "' missing or of the wrong type");
    }
    return *v;
}

int32_t intOf(const Value& v, const char* what, const std::string& sidecar)
{
    if (v.kind != Value::Kind::kNUMBER || v.number != std::floor(v.number) || std::fabs(v.number) > 2147483647.0)
    {
        bad(sidecar, std::string(what) + " is not an integer");
    }
    return static_cast<int32_t>(v.number);
}

//! "10.16.0.2" -> {10, 16}; {-1, -1} when unparsable.
std::pair<int, int> majorMinor(const std::string& version)
{
    int major = -1;
    int minor = -1;
    if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2)
    {
        return {-1, -1};
    }
    return {major, minor};
}

bool isComputeCapability(const std::string& text)
{
    int major = 0;
    int minor = 0;
    char tail = 0;
    return std::sscanf(text.c_str(), "%d.%d%c", &major, &minor, &tail) == 2;
}

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& item : items)
    {
        out += (out.empty() ? "" : ", ") + item;
    }
    return out;
}

const char* dtypeName(DType dtype)
{
    return dtype == DType::kUINT8 ? "uint8" : "float32";
}

std::string shapeText(const TensorView& view)
{
    std::string out = "[";
    for (int32_t i = 0; i < view.ndim; ++i)
    {
        out += (i ? ", " : "") + std::to_string(view.shape[i]);
    }
    return out + "]";
}

} // namespace

std::vector<std::string> splitUtf8(const std::string& text)
{
    std::vector<std::string> out;
    for (size_t i = 0; i < text.size();)
    {
        auto lead = static_cast<unsigned char>(text[i]);
        size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > text.size())
        {
            throw std::invalid_argument("charset is not valid UTF-8");
        }
        for (size_t k = 1; k < n; ++k)
        {
            if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2)
            {
                throw std::invalid_argument("charset is not valid UTF-8");
            }
        }
        out.push_back(text.substr(i, n));
        i += n;
    }
    return out;
}

std::string defaultSidecarPath(const std::string& enginePath)
{
    size_t slash = enginePath.find_last_of("/\\");
    size_t dot = enginePath.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == slash + 1)
    {
        return enginePath + ".json";
    }
    return enginePath.substr(0, dot) + ".json";
}

EngineInfo parseSidecar(const std::string& text, const std::string& sidecar)
{
    Value root;
    try
    {
        root = json::parse(text);
    }
    catch (const std::invalid_argument& e)
    {
        bad(sidecar, e.what());
    }
    if (root.kind != Value::Kind::kOBJECT)
    {
        bad(sidecar, "not a JSON object");
    }
    const Value* format = root.find("format");
    if (format == nullptr || format->kind != Value::Kind::kSTRING || format->string != "starnet-trt-engine")
    {
        bad(sidecar, "its 'format' is not 'starnet-trt-engine'");
    }
    EngineInfo info;
    info.engineSha256 = member(root, "engine_sha256", Value::Kind::kSTRING, sidecar).string;
    if (const Value* bytes = root.find("engine_bytes"); bytes != nullptr && bytes->kind == Value::Kind::kNUMBER)
    {
        info.engineBytes = static_cast<int64_t>(bytes->number);
    }
    info.charset = member(root, "charset", Value::Kind::kSTRING, sidecar).string;
    try
    {
        info.characters = splitUtf8(info.charset);
    }
    catch (const std::invalid_argument& e)
    {
        bad(sidecar, e.what());
    }
    info.blankIndex = intOf(member(root, "blank_index", Value::Kind::kNUMBER, sidecar), "blank_index", sidecar);
    info.output = member(root, "output", Value::Kind::kSTRING, sidecar).string;
    if (const Value* precision = root.find("precision"); precision && precision->kind == Value::Kind::kSTRING)
    {
        info.precision = precision->string;
    }
    const Value& pre = member(root, "preprocess", Value::Kind::kOBJECT, sidecar);
    info.channels = intOf(member(pre, "channels", Value::Kind::kNUMBER, sidecar), "preprocess.channels", sidecar);
    info.height = intOf(member(pre, "height", Value::Kind::kNUMBER, sidecar), "preprocess.height", sidecar);
    info.width = intOf(member(pre, "width", Value::Kind::kNUMBER, sidecar), "preprocess.width", sidecar);
    if (const Value* resize = pre.find("resize"); resize != nullptr && resize->kind == Value::Kind::kSTRING)
    {
        info.resize = resize->string;
    }
    if (info.resize != "keep_ratio_pad_right" && info.resize != "stretch")
    {
        bad(sidecar, "preprocess resize '" + info.resize + "' is not supported by the TensorRT runtime");
    }
    if ((info.channels != 1 && info.channels != 3) || info.height < 1 || info.width < 1)
    {
        bad(sidecar, "preprocess needs channels 1 or 3 and a positive height and width");
    }
    info.inputName = member(member(root, "input", Value::Kind::kOBJECT, sidecar), "name", Value::Kind::kSTRING,
        sidecar).string;
    const Value& profile = member(root, "profile", Value::Kind::kOBJECT, sidecar);
    int32_t* batches[] = {&info.minBatch, &info.optBatch, &info.maxBatch};
    const char* keys[] = {"min", "opt", "max"};
    for (int i = 0; i < 3; ++i)
    {
        const Value& dims = member(profile, keys[i], Value::Kind::kARRAY, sidecar);
        if (dims.items.size() != 4)
        {
            bad(sidecar, std::string("profile.") + keys[i] + " is not [N, C, H, W]");
        }
        *batches[i] = intOf(dims.items[0], "profile batch", sidecar);
    }
    if (info.minBatch < 1 || info.minBatch > info.optBatch || info.optBatch > info.maxBatch)
    {
        bad(sidecar, "profile batches are not 1 <= min <= opt <= max");
    }
    info.classes = static_cast<int32_t>(info.characters.size()) + 1;
    if (info.blankIndex < 0 || info.blankIndex >= info.classes)
    {
        bad(sidecar, "blank_index is outside the classes");
    }
    for (const Value& out : member(root, "outputs", Value::Kind::kARRAY, sidecar).items)
    {
        const Value* name = out.find("name");
        const Value* shape = out.find("shape");
        if (name == nullptr || name->kind != Value::Kind::kSTRING || shape == nullptr
            || shape->kind != Value::Kind::kARRAY)
        {
            bad(sidecar, "an output record lacks name or shape");
        }
        if (name->string == "indices")
        {
            info.decodePlugin = true;
        }
        if ((name->string == "indices" || name->string == "probs" || name->string == "logits")
            && shape->items.size() >= 2 && shape->items[1].kind == Value::Kind::kNUMBER && shape->items[1].number > 0)
        {
            info.steps = intOf(shape->items[1], "output steps", sidecar);
        }
    }
    const Value& trt = member(root, "tensorrt", Value::Kind::kOBJECT, sidecar);
    info.tensorrtFlavour = member(trt, "flavour", Value::Kind::kSTRING, sidecar).string;
    info.tensorrtVersion = member(trt, "version", Value::Kind::kSTRING, sidecar).string;
    if (const Value* device = root.find("device"); device != nullptr && device->kind == Value::Kind::kOBJECT)
    {
        if (const Value* ccs = device->find("compute_capabilities"); ccs && ccs->kind == Value::Kind::kARRAY)
        {
            for (const Value& cc : ccs->items)
            {
                // Non-numeric entries describe portable builds (TensorRT-RTX's default); nothing to compare.
                if (cc.kind == Value::Kind::kSTRING && isComputeCapability(cc.string))
                {
                    info.computeCapabilities.push_back(cc.string);
                }
            }
        }
    }
    if (const Value* plugins = root.find("plugins"); plugins != nullptr && plugins->kind == Value::Kind::kARRAY)
    {
        for (const Value& p : plugins->items)
        {
            if (p.kind != Value::Kind::kOBJECT)
            {
                bad(sidecar, "a plugin record is not an object");
            }
            EngineInfo::Plugin plugin;
            plugin.name = member(p, "name", Value::Kind::kSTRING, sidecar).string;
            plugin.version = member(p, "version", Value::Kind::kSTRING, sidecar).string;
            if (const Value* ns = p.find("namespace"); ns && ns->kind == Value::Kind::kSTRING)
            {
                plugin.nameSpace = ns->string;
            }
            info.plugins.push_back(plugin);
        }
    }
    return info;
}

EngineInfo readCheckedEngine(const std::string& enginePath, const std::string& sidecarPath, std::vector<char>& bytes)
{
    std::string sidecar = sidecarPath.empty() ? defaultSidecarPath(enginePath) : sidecarPath;
    std::string engineText = readFile(enginePath, "engine");
    std::string sidecarText = readFile(sidecar, "engine sidecar (build engines with 'starnet-trt build')");
    EngineInfo info = parseSidecar(sidecarText, sidecar);
    info.enginePath = enginePath;
    if (info.engineBytes >= 0 && static_cast<int64_t>(engineText.size()) != info.engineBytes)
    {
        throw std::invalid_argument("'" + enginePath + "' has " + std::to_string(engineText.size())
            + " bytes but its sidecar records " + std::to_string(info.engineBytes)
            + (static_cast<int64_t>(engineText.size()) < info.engineBytes ? " (truncated copy?)" : "")
            + ": copy the engine again or rebuild it");
    }
    std::string digest = sha256Hex(engineText.data(), engineText.size());
    if (digest != info.engineSha256)
    {
        throw std::invalid_argument("'" + enginePath + "' does not match its sidecar '" + sidecar + "': sha256 "
            + digest + ", the sidecar records " + info.engineSha256 + " (a different or modified engine): rebuild it");
    }
    if (info.tensorrtFlavour != "tensorrt")
    {
        throw std::invalid_argument("'" + enginePath + "' was built with " + info.tensorrtFlavour + " "
            + info.tensorrtVersion
            + ", which this runtime (NVIDIA TensorRT, libnvinfer) cannot load; rebuild it with "
              "'starnet-trt build --trt tensorrt', or run the ONNX model with backend='onnxruntime'");
    }
    bytes.assign(engineText.begin(), engineText.end());
    return info;
}

EngineInfo inspectEngine(const std::string& enginePath, const std::string& sidecarPath)
{
    std::vector<char> bytes;
    return readCheckedEngine(enginePath, sidecarPath, bytes);
}

void checkEngineEnvironment(const EngineInfo& info, const std::string& tensorrtVersion,
    const std::string& computeCapability, const std::vector<EngineInfo::Plugin>& available)
{
    auto built = majorMinor(info.tensorrtVersion);
    auto here = majorMinor(tensorrtVersion);
    // TensorRT engines are only compatible with the exact version that built them (short of version-compatible
    // builds, which the builder does not make); major.minor is what its own deserializer checks first.
    if (built.first < 0 || built != here)
    {
        throw std::invalid_argument("'" + info.enginePath + "' was built with TensorRT " + info.tensorrtVersion
            + " but TensorRT " + tensorrtVersion + " is loaded: rebuild the engine with this TensorRT "
              "('starnet-trt build') or point STARNET_TRT_LIBNVINFER at a matching libnvinfer");
    }
    if (!computeCapability.empty() && !info.computeCapabilities.empty())
    {
        bool found = false;
        for (const auto& cc : info.computeCapabilities)
        {
            found = found || cc == computeCapability;
        }
        if (!found)
        {
            throw std::invalid_argument("'" + info.enginePath + "' was built for compute capability "
                + join(info.computeCapabilities) + " but this GPU is " + computeCapability
                + ": TensorRT engines are specific to the GPU they are built on; rebuild it on this machine");
        }
    }
    for (const auto& need : info.plugins)
    {
        const EngineInfo::Plugin* match = nullptr;
        for (const auto& have : available)
        {
            if (have.name == need.name && have.nameSpace == need.nameSpace)
            {
                match = &have;
            }
        }
        if (match == nullptr)
        {
            throw std::invalid_argument("'" + info.enginePath + "' uses plugin " + need.name + " version "
                + need.version + ", which the loaded plugin library does not provide: install the starnet-trt "
                  "build that made the engine, set STARNET_TRT_PLUGINS, or rebuild with '--plugins none'");
        }
        if (match->version != need.version)
        {
            throw std::invalid_argument("'" + info.enginePath + "' was built with plugin " + need.name + " version "
                + need.version + " but the loaded plugin library has version " + match->version
                + ": rebuild the engine with this starnet-trt");
        }
    }
}

void checkImages(const std::vector<ImageView>& images)
{
    for (size_t i = 0; i < images.size(); ++i)
    {
        const ImageView& im = images[i];
        std::string name = "image " + std::to_string(i);
        if (im.data == nullptr)
        {
            throw std::invalid_argument(name + ": no data");
        }
        if (im.height < 1 || im.width < 1)
        {
            throw std::invalid_argument(name + ": expected a non-empty image, got " + std::to_string(im.height)
                + "x" + std::to_string(im.width));
        }
        if (im.channels != 1 && im.channels != 3 && im.channels != 4)
        {
            throw std::invalid_argument(name + ": expected 1, 3 or 4 channels (gray, BGR, BGRA), got "
                + std::to_string(im.channels));
        }
        // Each image is addressed with 32-bit offsets on the GPU (the kernel's contract).
        int64_t span = std::llabs(im.strideY) * (im.height - 1) + std::llabs(im.strideX) * (im.width - 1)
            + std::llabs(im.strideC) * (im.channels - 1) + 1;
        if (span >= (int64_t(1) << 31))
        {
            throw std::invalid_argument(name + ": images must be under 2 GiB");
        }
    }
}

void checkInput(const EngineInfo& info, const TensorView& view)
{
    if (view.ndim != 4)
    {
        throw std::invalid_argument("expected a 4-D batch (uint8 [N, H, W, C] images or float32 [N, "
            + std::to_string(info.channels) + ", " + std::to_string(info.height) + ", " + std::to_string(info.width)
            + "] normalized input), got " + std::to_string(view.ndim) + " dimensions");
    }
    if (view.shape[0] < 1)
    {
        throw std::invalid_argument("expected at least one image, got a batch of " + std::to_string(view.shape[0]));
    }
    if (view.shape[0] > (int64_t(1) << 30))
    {
        throw std::invalid_argument("batch of " + std::to_string(view.shape[0]) + " is too large");
    }
    if (view.data == nullptr)
    {
        throw std::invalid_argument("the input has no data pointer");
    }
    for (int32_t i = 0; i < 4; ++i)
    {
        if (view.shape[i] < 1 && i > 0)
        {
            throw std::invalid_argument("expected non-empty dimensions, got shape " + shapeText(view));
        }
    }
    if (view.dtype == DType::kUINT8)
    {
        if (view.shape[3] != 1 && view.shape[3] != 3 && view.shape[3] != 4)
        {
            throw std::invalid_argument("expected uint8 images [N, H, W, C] with C 1, 3 or 4, got shape "
                + shapeText(view));
        }
        if (view.shape[1] > (int64_t(1) << 20) || view.shape[2] > (int64_t(1) << 20))
        {
            throw std::invalid_argument("image sides must be under 2^20 pixels, got shape " + shapeText(view));
        }
        int64_t span = 1;
        for (int32_t i = 1; i < 4; ++i)
        {
            span += std::llabs(view.strides[i]) * (view.shape[i] - 1);
        }
        if (span >= (int64_t(1) << 31))
        {
            throw std::invalid_argument("each image must be under 2 GiB, got shape " + shapeText(view));
        }
        return; // any strides: the GPU kernel reads strided images
    }
    if (view.shape[1] != info.channels || view.shape[2] != info.height || view.shape[3] != info.width)
    {
        throw std::invalid_argument("expected float32 [N, " + std::to_string(info.channels) + ", "
            + std::to_string(info.height) + ", " + std::to_string(info.width) + "] (the engine's input), got shape "
            + shapeText(view));
    }
    // Normalized input is copied into the engine's input buffer in one piece, so it must be C-contiguous.
    int64_t expected = 4;
    for (int32_t i = 3; i >= 0; --i)
    {
        if (view.shape[i] > 1 && view.strides[i] != expected)
        {
            throw std::invalid_argument(std::string("expected a C-contiguous ") + dtypeName(view.dtype)
                + " array, got strides that are not (make it contiguous first, e.g. numpy.ascontiguousarray)");
        }
        expected *= view.shape[i];
    }
}

} // namespace starnet
