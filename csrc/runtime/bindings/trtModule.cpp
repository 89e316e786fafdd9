// starnet_trt._trt: thin pybind11 bindings of the C++ predictor (csrc/runtime). Types are converted here
// (NumPy buffers, __cuda_array_interface__, DLPack); every check lives in the C++ runtime. Separate from _core so
// that _core never depends on TensorRT's headers.
#include "runtime/engineCheck.h"
#include "starnet/predictor.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;

namespace
{

//! A file name as Python spells it (os.fsdecode: undecodable bytes become surrogate escapes), so a path that is not
//! valid UTF-8 round-trips instead of failing the conversion.
py::str fsString(const std::string& path)
{
    return py::reinterpret_steal<py::str>(
        PyUnicode_DecodeFSDefaultAndSize(path.data(), static_cast<Py_ssize_t>(path.size())));
}

// -- DLPack (the stable C ABI of dlpack.h v0.8; producers hand out "dltensor" capsules of DLManagedTensor) -------

struct DLDevice
{
    int32_t device_type;
    int32_t device_id;
};
struct DLDataType
{
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
};
struct DLTensor
{
    void* data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t* shape;
    int64_t* strides;
    uint64_t byte_offset;
};
struct DLManagedTensor
{
    DLTensor dl_tensor;
    void* manager_ctx;
    void (*deleter)(DLManagedTensor* self);
};
constexpr int32_t kDL_CPU = 1;
constexpr int32_t kDL_CUDA = 2;
constexpr int32_t kDL_CUDA_MANAGED = 13;
constexpr uint8_t kDL_UINT = 1;
constexpr uint8_t kDL_FLOAT = 2;

//! What must stay alive while the GPU may read a caller's memory: Python objects, buffer views, DLPack tensors.
struct KeepAlive
{
    std::vector<py::object> objects;
    std::vector<std::unique_ptr<py::buffer_info>> buffers;
    DLManagedTensor* dlpack{nullptr};

    KeepAlive() = default;
    KeepAlive(const KeepAlive&) = delete;
    KeepAlive& operator=(const KeepAlive&) = delete;
    ~KeepAlive()
    {
        if (dlpack != nullptr && dlpack->deleter != nullptr)
        {
            dlpack->deleter(dlpack);
        }
    }
};

//! A converted Python input: host images, or one tensor.
struct Input
{
    bool isImages{false};
    std::vector<starnet::ImageView> images;
    starnet::TensorView tensor;
    std::shared_ptr<KeepAlive> keep = std::make_shared<KeepAlive>();
};

starnet::DType dtypeOf(const std::string& typestr)
{
    // Buffer-protocol formats ("B", "f", "<f") and __cuda_array_interface__ typestr ("|u1", "<f4").
    if (typestr == "B" || typestr == "|u1" || typestr == "<u1" || typestr == "u1")
    {
        return starnet::DType::kUINT8;
    }
    if (typestr == "f" || typestr == "<f" || typestr == "=f" || typestr == "<f4" || typestr == "f4")
    {
        return starnet::DType::kFLOAT32;
    }
    throw py::value_error("expected uint8 images or float32 normalized input, got element type '" + typestr + "'");
}

int64_t itemSize(starnet::DType dtype)
{
    return dtype == starnet::DType::kUINT8 ? 1 : 4;
}

void fillShape(starnet::TensorView& view, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides)
{
    if (shape.size() > 4 || shape.size() < 2)
    {
        throw py::value_error("expected an image (HxW or HxWxC), a uint8 batch NxHxWxC or a float32 batch NxCxHxW, got "
            + std::to_string(shape.size()) + " dimensions");
    }
    // HxW and HxWxC single images become a batch of one (gray HxW gets C = 1).
    std::vector<int64_t> s = shape;
    std::vector<int64_t> st = strides;
    if (s.size() == 2)
    {
        s.push_back(1);
        st.push_back(itemSize(view.dtype));
    }
    if (s.size() == 3)
    {
        s.insert(s.begin(), 1);
        st.insert(st.begin(), s[1] * st[0]);
    }
    view.ndim = 4;
    for (int i = 0; i < 4; ++i)
    {
        view.shape[i] = s[i];
        view.strides[i] = st[i];
    }
}

void fromBuffer(const py::object& obj, Input& input, bool listItem = false)
{
    auto info = std::make_unique<py::buffer_info>(py::reinterpret_borrow<py::buffer>(obj).request());
    starnet::TensorView& view = input.tensor;
    view.dtype = dtypeOf(info->format);
    view.memory = starnet::Memory::kHOST;
    view.data = info->ptr;
    fillShape(view, info->shape, info->strides);
    if (!listItem && view.dtype == starnet::DType::kFLOAT32 && info->ndim != 4)
    {
        throw py::value_error("float32 input must be a normalized batch [N, C, H, W]");
    }
    input.keep->objects.push_back(obj);
    input.keep->buffers.push_back(std::move(info));
}

void fromCudaArrayInterface(const py::object& obj, Input& input)
{
    py::dict cai = obj.attr("__cuda_array_interface__");
    starnet::TensorView& view = input.tensor;
    view.memory = starnet::Memory::kDEVICE;
    view.deviceId = -1;
    view.dtype = dtypeOf(py::str(cai["typestr"]));
    py::tuple data = cai["data"];
    view.data = reinterpret_cast<const void*>(data[0].cast<uintptr_t>());
    std::vector<int64_t> shape = cai["shape"].cast<std::vector<int64_t>>();
    std::vector<int64_t> strides;
    if (cai.contains("strides") && !cai["strides"].is_none())
    {
        strides = cai["strides"].cast<std::vector<int64_t>>();
    }
    else
    {
        strides.assign(shape.size(), itemSize(view.dtype));
        for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
        {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
    }
    if (strides.size() != shape.size())
    {
        throw py::value_error("__cuda_array_interface__ strides and shape differ in length");
    }
    if (cai.contains("mask") && !cai["mask"].is_none())
    {
        throw py::value_error("masked CUDA arrays are not supported");
    }
    // Version 3: "stream" is the producer's stream (1: legacy default, 2: per-thread default, else a handle);
    // absent or None means the producer synchronized already.
    if (cai.contains("stream") && !cai["stream"].is_none())
    {
        view.producerStream = cai["stream"].cast<uintptr_t>();
    }
    fillShape(view, shape, strides);
    if (view.dtype == starnet::DType::kFLOAT32 && shape.size() != 4)
    {
        throw py::value_error("float32 input must be a normalized batch [N, C, H, W]");
    }
    input.keep->objects.push_back(obj);
}

void fromDlpack(const py::object& obj, Input& input, uintptr_t consumerStream)
{
    // Passing our stream lets the producer order its pending work before it (the DLPack stream contract).
    py::object capsuleObj = consumerStream != 0 ? obj.attr("__dlpack__")("stream"_a = consumerStream)
                                                : obj.attr("__dlpack__")();
    py::capsule capsule = py::reinterpret_borrow<py::capsule>(capsuleObj);
    if (std::string(capsule.name() ? capsule.name() : "") != "dltensor")
    {
        throw py::value_error("__dlpack__ did not return an unused 'dltensor' capsule");
    }
    auto* managed = capsule.get_pointer<DLManagedTensor>();
    capsule.set_name("used_dltensor"); // the capsule is consumed: its deleter is now ours to call
    input.keep->dlpack = managed;
    const DLTensor& t = managed->dl_tensor;
    starnet::TensorView& view = input.tensor;
    if (t.device.device_type == kDL_CUDA || t.device.device_type == kDL_CUDA_MANAGED)
    {
        view.memory = starnet::Memory::kDEVICE;
        view.deviceId = t.device.device_id;
    }
    else if (t.device.device_type == kDL_CPU)
    {
        view.memory = starnet::Memory::kHOST;
    }
    else
    {
        throw py::value_error("DLPack device type " + std::to_string(t.device.device_type)
            + " is not supported (expected CPU or CUDA memory)");
    }
    if (t.dtype.lanes != 1 || !((t.dtype.code == kDL_UINT && t.dtype.bits == 8) || (t.dtype.code == kDL_FLOAT
                                 && t.dtype.bits == 32)))
    {
        throw py::value_error("expected uint8 images or float32 normalized input, got DLPack dtype code "
            + std::to_string(t.dtype.code) + " with " + std::to_string(t.dtype.bits) + " bits");
    }
    view.dtype = t.dtype.code == kDL_UINT ? starnet::DType::kUINT8 : starnet::DType::kFLOAT32;
    view.data = static_cast<const uint8_t*>(t.data) + t.byte_offset;
    std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
    std::vector<int64_t> strides(t.ndim);
    int64_t item = itemSize(view.dtype);
    for (int32_t i = t.ndim - 1; i >= 0; --i)
    {
        // DLPack strides count elements; NULL means C-contiguous.
        strides[i] = t.strides != nullptr ? t.strides[i] * item
                                          : (i == t.ndim - 1 ? item : strides[i + 1] * shape[i + 1]);
    }
    fillShape(view, shape, strides);
    if (view.dtype == starnet::DType::kFLOAT32 && t.ndim != 4)
    {
        throw py::value_error("float32 input must be a normalized batch [N, C, H, W]");
    }
    input.keep->objects.push_back(obj);
}

//! Python object -> runtime input. Lists/tuples are host images of any sizes; anything else is one tensor.
Input convert(const py::handle& handle, uintptr_t consumerStream)
{
    py::object obj = py::reinterpret_borrow<py::object>(handle);
    Input input;
    if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj))
    {
        input.isImages = true;
        size_t i = 0;
        for (const py::handle& item : obj)
        {
            if (!PyObject_CheckBuffer(item.ptr()))
            {
                throw py::type_error("image " + std::to_string(i) + ": expected a uint8 array, got "
                    + std::string(py::str(py::type::of(item).attr("__name__"))));
            }
            Input one;
            std::string name = "image " + std::to_string(i) + ": ";
            try
            {
                fromBuffer(py::reinterpret_borrow<py::object>(item), one, true);
            }
            catch (const py::value_error& e)
            {
                throw py::value_error(name + e.what());
            }
            const starnet::TensorView& v = one.tensor;
            if (v.dtype != starnet::DType::kUINT8 || v.shape[0] != 1)
            {
                throw py::value_error(name + "expected a uint8 HxW or HxWxC array");
            }
            input.images.push_back(starnet::ImageView{static_cast<const uint8_t*>(v.data),
                static_cast<int32_t>(v.shape[1]), static_cast<int32_t>(v.shape[2]), static_cast<int32_t>(v.shape[3]),
                v.strides[1], v.strides[2], v.strides[3]});
            for (auto& o : one.keep->objects)
            {
                input.keep->objects.push_back(std::move(o));
            }
            for (auto& b : one.keep->buffers)
            {
                input.keep->buffers.push_back(std::move(b));
            }
            ++i;
        }
        return input;
    }
    if (py::hasattr(obj, "__cuda_array_interface__"))
    {
        fromCudaArrayInterface(obj, input);
    }
    else if (PyObject_CheckBuffer(obj.ptr()))
    {
        fromBuffer(obj, input);
    }
    else if (py::hasattr(obj, "__dlpack__"))
    {
        fromDlpack(obj, input, consumerStream);
    }
    else
    {
        throw py::type_error("expected a list of uint8 arrays, a NumPy array, or a CUDA array "
                             "(__cuda_array_interface__ or DLPack), got "
            + std::string(py::str(py::type::of(obj).attr("__name__"))));
    }
    return input;
}

void checkConverted(const starnet::EngineInfo& info, const Input& input)
{
    if (input.isImages)
    {
        starnet::checkImages(input.images);
    }
    else
    {
        starnet::checkInput(info, input.tensor);
    }
}

py::tuple toArrays(starnet::Decoded&& decoded)
{
    auto* owned = new starnet::Decoded(std::move(decoded));
    py::capsule free(owned, [](void* p) { delete static_cast<starnet::Decoded*>(p); });
    const py::ssize_t n = owned->batch;
    const py::ssize_t t = owned->steps;
    py::array_t<int32_t> indices({n, t}, owned->indices.data(), free);
    py::array_t<int32_t> lengths({n}, owned->lengths.data(), free);
    py::array_t<float> confidences({n}, owned->confidences.data(), free);
    return py::make_tuple(indices, lengths, confidences);
}

//! A batch in flight; keeps the inputs alive until its outputs are collected.
class AsyncResult
{
public:
    AsyncResult(starnet::PendingResult&& pending, std::shared_ptr<KeepAlive> keep)
        : mPending(std::move(pending))
        , mKeep(std::move(keep))
    {
    }

    bool done() const
    {
        return mPending.done();
    }

    py::tuple result()
    {
        if (!mCollected)
        {
            {
                py::gil_scoped_release release;
                mPending.get();
            }
            mCollected = true;
            mKeep.reset();
        }
        starnet::Decoded copy = mPending.get();
        return toArrays(std::move(copy));
    }

private:
    starnet::PendingResult mPending;
    std::shared_ptr<KeepAlive> mKeep;
    bool mCollected{false};
};

class PyPredictor
{
public:
    PyPredictor(const std::string& engine, const std::string& sidecar, const std::string& libnvinfer,
        const std::string& plugins, int32_t device, bool cudaGraphs)
    {
        starnet::PredictorOptions options;
        options.sidecarPath = sidecar;
        options.libnvinferPath = libnvinfer;
        options.pluginLibraryPath = plugins;
        options.device = device;
        options.cudaGraphs = cudaGraphs;
        py::gil_scoped_release release; // reading and hashing the engine, deserializing
        mPredictor = std::make_unique<starnet::Predictor>(engine, options);
    }
    explicit PyPredictor(starnet::Predictor&& predictor)
        : mPredictor(std::make_unique<starnet::Predictor>(std::move(predictor)))
    {
    }

    starnet::Predictor& get() const
    {
        if (!mPredictor || mPredictor->closed())
        {
            throw std::logic_error("this Predictor has been closed");
        }
        return *mPredictor;
    }

    AsyncResult submit(const py::handle& images, bool inputIsRgb)
    {
        starnet::Predictor& predictor = get();
        Input input = convert(images, predictor.cudaStream());
        starnet::PendingResult pending;
        {
            py::gil_scoped_release release;
            pending = input.isImages ? predictor.submit(input.images, inputIsRgb)
                                     : predictor.submit(input.tensor, inputIsRgb);
        }
        return AsyncResult(std::move(pending), input.keep);
    }

    py::tuple recognize(const py::handle& images, bool inputIsRgb)
    {
        return submit(images, inputIsRgb).result();
    }

    std::unique_ptr<PyPredictor> clone() const
    {
        starnet::Predictor& predictor = get();
        py::gil_scoped_release release;
        return std::make_unique<PyPredictor>(predictor.clone());
    }

    void close()
    {
        if (mPredictor)
        {
            py::gil_scoped_release release;
            mPredictor->close();
        }
    }

    bool closed() const
    {
        return !mPredictor || mPredictor->closed();
    }

private:
    std::unique_ptr<starnet::Predictor> mPredictor;
};

py::dict infoDict(const starnet::EngineInfo& info)
{
    py::list plugins;
    for (const auto& p : info.plugins)
    {
        plugins.append(py::dict("name"_a = p.name, "version"_a = p.version, "namespace"_a = p.nameSpace));
    }
    return py::dict("engine"_a = fsString(info.enginePath), "charset"_a = info.charset, "blank_index"_a = info.blankIndex,
        "output"_a = info.output, "precision"_a = info.precision, "input_name"_a = info.inputName,
        "input_shape"_a = py::make_tuple(info.channels, info.height, info.width),
        "profile"_a = py::make_tuple(info.minBatch, info.optBatch, info.maxBatch), "steps"_a = info.steps,
        "classes"_a = info.classes, "decode_plugin"_a = info.decodePlugin, "tensorrt_flavour"_a = info.tensorrtFlavour,
        "tensorrt_version"_a = info.tensorrtVersion, "compute_capabilities"_a = info.computeCapabilities,
        "plugins"_a = plugins, "engine_sha256"_a = info.engineSha256, "engine_bytes"_a = info.engineBytes);
}

//! Raises `type` with `message` decoded as UTF-8 with backslash escapes: messages quote sidecar text and file names,
//! which need not be valid UTF-8, and pybind11's default translation would then raise UnicodeDecodeError instead.
void raiseEscaped(PyObject* type, const char* message)
{
    PyObject* text = PyUnicode_DecodeUTF8(message, static_cast<Py_ssize_t>(std::strlen(message)), "backslashreplace");
    PyErr_SetObject(type, text);
    Py_XDECREF(text);
}

} // namespace

PYBIND11_MODULE(_trt, m)
{
    m.doc() = "starnet-trt TensorRT predictor (C++ runtime; TensorRT loaded at run time with dlopen)";
    py::register_exception_translator([](std::exception_ptr pending) {
        try
        {
            if (pending)
            {
                std::rethrow_exception(pending);
            }
        }
        catch (const py::builtin_exception&)
        {
            throw; // py::value_error, py::type_error, ...: pybind11's own translation keeps their types
        }
        catch (const std::invalid_argument& e)
        {
            raiseEscaped(PyExc_ValueError, e.what());
        }
        catch (const std::out_of_range& e)
        {
            raiseEscaped(PyExc_IndexError, e.what());
        }
        catch (const std::runtime_error& e)
        {
            raiseEscaped(PyExc_RuntimeError, e.what());
        }
    });

    py::class_<starnet::EngineInfo>(m, "EngineInfo", "An engine's sidecar, checked against the engine file")
        .def("as_dict", &infoDict)
        .def_readonly("max_batch", &starnet::EngineInfo::maxBatch)
        .def_readonly("min_batch", &starnet::EngineInfo::minBatch)
        .def_readonly("charset", &starnet::EngineInfo::charset)
        .def("__repr__",
            [](const starnet::EngineInfo& i) { return py::str("<EngineInfo {!r}>").format(fsString(i.enginePath)); });

    m.def(
        "inspect_engine", [](const std::string& engine, const std::string& sidecar) {
            py::gil_scoped_release release;
            return starnet::inspectEngine(engine, sidecar);
        },
        "engine"_a, "sidecar"_a = "",
        "Check an engine against its sidecar (format, size, sha256, TensorRT flavour) without GPU or TensorRT.");
    m.def(
        "check_engine_environment",
        [](const starnet::EngineInfo& info, const std::string& version, const std::string& cc,
            const std::vector<std::tuple<std::string, std::string, std::string>>& plugins) {
            std::vector<starnet::EngineInfo::Plugin> available;
            for (const auto& p : plugins)
            {
                available.push_back({std::get<0>(p), std::get<1>(p), std::get<2>(p)});
            }
            starnet::checkEngineEnvironment(info, version, cc, available);
        },
        "info"_a, "tensorrt_version"_a, "compute_capability"_a, "plugins"_a,
        "The checks Predictor makes against the loaded TensorRT, the GPU and the plugin library "
        "(plugins: (name, version, namespace) tuples).");
    m.def(
        "check_input",
        [](const starnet::EngineInfo& info, const py::handle& images) {
            Input input = convert(images, 0);
            checkConverted(info, input);
            if (input.isImages)
            {
                return py::dict("kind"_a = "images", "count"_a = input.images.size());
            }
            const starnet::TensorView& v = input.tensor;
            return py::dict("kind"_a = v.dtype == starnet::DType::kUINT8 ? "uint8" : "float32",
                "memory"_a = v.memory == starnet::Memory::kHOST ? "host" : "device",
                "shape"_a = py::make_tuple(v.shape[0], v.shape[1], v.shape[2], v.shape[3]));
        },
        "info"_a, "images"_a, "Convert and validate an input exactly as Predictor.recognize does, without a GPU.");
    m.def(
        "tensorrt_version",
        [](const std::string& libnvinfer) {
            starnet::PredictorOptions options;
            options.libnvinferPath = libnvinfer;
            return starnet::tensorrtLibraryVersion(options);
        },
        "libnvinfer"_a = "", "Version of the libnvinfer the predictor would load (RuntimeError when there is none).");
    m.def("cuda_device_count", &starnet::cudaDeviceCount, "Visible CUDA devices (0 without a driver or GPU).");

    py::class_<AsyncResult>(m, "AsyncResult", "A batch in flight: result() waits (GIL released), done() polls.")
        .def("done", &AsyncResult::done)
        .def("result", &AsyncResult::result, "(indices [N, T] int32, lengths [N] int32, confidences [N] float32)");

    py::class_<PyPredictor>(m, "Predictor",
        "One TensorRT execution context + CUDA stream over a shared engine. Not thread-safe: one predictor per "
        "thread, made with clone().")
        .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&, int32_t,
                 bool>(),
            "engine"_a, py::kw_only(), "sidecar"_a = "", "libnvinfer"_a = "", "plugins"_a = "", "device"_a = 0,
            "cuda_graphs"_a = true)
        .def("recognize", &PyPredictor::recognize, "images"_a, py::kw_only(), "input_is_rgb"_a = false,
            "Run a batch: a list of uint8 HxW/HxWxC arrays (any sizes), a uint8 NxHxWxC or float32 NxCxHxW array, "
            "or a CUDA array (__cuda_array_interface__ / DLPack). Returns (indices, lengths, confidences).")
        .def("recognize_async", &PyPredictor::submit, "images"_a, py::kw_only(), "input_is_rgb"_a = false,
            "Queue a batch and return an AsyncResult; host inputs are copied before it returns.")
        .def("clone", &PyPredictor::clone, "A predictor sharing this engine, with its own context and stream.")
        .def("close", &PyPredictor::close)
        .def_property_readonly("closed", &PyPredictor::closed)
        .def_property_readonly("info", [](const PyPredictor& p) { return p.get().info(); })
        .def_property_readonly("integrated_gpu", [](const PyPredictor& p) { return p.get().integratedGpu(); })
        .def_property_readonly("cuda_graphs", [](const PyPredictor& p) { return p.get().cudaGraphs(); })
        .def_property_readonly("graph_batch_sizes", [](const PyPredictor& p) { return p.get().graphBatchSizes(); })
        .def_property_readonly("cuda_stream", [](const PyPredictor& p) { return p.get().cudaStream(); })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyPredictor& p, const py::args&) { p.close(); })
        .def("__copy__",
            [](const PyPredictor&) {
                throw py::type_error("a Predictor cannot be copied (it owns a CUDA stream and an execution context); "
                                     "use predictor.clone() for another one sharing the engine");
            })
        .def("__deepcopy__",
            [](const PyPredictor&, const py::object&) {
                throw py::type_error("a Predictor cannot be copied (it owns a CUDA stream and an execution context); "
                                     "use predictor.clone() for another one sharing the engine");
            })
        .def("__reduce__", [](const PyPredictor&) -> py::object {
            throw py::type_error("a Predictor cannot be pickled; open the engine again in the other process");
        });
}
