// Thin pybind11 layer: converts numpy arrays to plain descriptors (no copies, any strides), releases the GIL around
// the native loops and maps std::invalid_argument to ValueError. All semantics live in csrc/core and csrc/cpu.
#include "core/imageDesc.h"
#include "cpu/ctcBeamSearchCPU.h"
#include "cpu/ctcGreedyDecodeCPU.h"
#include "cpu/resizeNormalizeCPU.h"
#include "cpu/tpsGridSampleCPU.h"
#if defined(STARNET_WITH_CUDA)
#include "cuda/deviceOps.h"
#endif

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace py = pybind11;

namespace
{

using starnet::ImageDesc;

std::string shapeString(const py::array& a)
{
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i)
    {
        s += (i ? ", " : "") + std::to_string(a.shape(i));
    }
    return s + (a.ndim() == 1 ? ",)" : ")");
}

bool isUint8(const py::array& a)
{
    return a.dtype().kind() == 'u' && a.itemsize() == 1;
}

//! Error prefix naming the batch index; built only when an error is actually thrown (this runs per image).
std::string imageWhere(size_t i)
{
    return "images[" + std::to_string(i) + "]: ";
}

ImageDesc describeImage(const py::array& a, size_t index)
{
    if (!isUint8(a))
    {
        throw std::invalid_argument(imageWhere(index) + "expected uint8, got dtype " + std::string(py::str(a.dtype())));
    }
    if (a.ndim() != 2 && a.ndim() != 3)
    {
        throw std::invalid_argument(imageWhere(index) + "expected an HxW or HxWxC image, got shape " + shapeString(a));
    }
    ImageDesc d;
    d.data = static_cast<const uint8_t*>(a.data());
    d.height = static_cast<int32_t>(a.shape(0));
    d.width = static_cast<int32_t>(a.shape(1));
    d.channels = a.ndim() == 3 ? static_cast<int32_t>(a.shape(2)) : 1;
    d.strideY = a.strides(0);
    d.strideX = a.strides(1);
    d.strideC = a.ndim() == 3 ? a.strides(2) : 0;
    if (a.shape(0) > INT32_MAX || a.shape(1) > INT32_MAX)
    {
        throw std::invalid_argument(imageWhere(index) + "image too large: " + shapeString(a));
    }
    return d;
}

//! Collects descriptors; `keepAlive` holds the arrays so their memory stays valid while the GIL is released.
std::vector<ImageDesc> describeBatch(const py::object& images, std::vector<py::array>& keepAlive)
{
    std::vector<ImageDesc> descs;
    if (py::isinstance<py::array>(images))
    {
        py::array batch = py::reinterpret_borrow<py::array>(images);
        if (batch.ndim() != 4)
        {
            throw std::invalid_argument(
                "a single array must be a batch NxHxWxC, got shape " + shapeString(batch) + "; pass a list of images");
        }
        keepAlive.push_back(batch);
        if (!isUint8(batch))
        {
            throw std::invalid_argument("images: expected uint8, got dtype " + std::string(py::str(batch.dtype())));
        }
        // Describe each image by pointer arithmetic rather than creating N numpy views.
        const auto* base = static_cast<const uint8_t*>(batch.data());
        for (py::ssize_t i = 0; i < batch.shape(0); ++i)
        {
            ImageDesc d;
            d.data = base + i * batch.strides(0);
            d.height = static_cast<int32_t>(batch.shape(1));
            d.width = static_cast<int32_t>(batch.shape(2));
            d.channels = static_cast<int32_t>(batch.shape(3));
            d.strideY = batch.strides(1);
            d.strideX = batch.strides(2);
            d.strideC = batch.strides(3);
            descs.push_back(d);
        }
        return descs;
    }
    if (!py::isinstance<py::list>(images) && !py::isinstance<py::tuple>(images))
    {
        throw py::type_error("images must be a list of numpy arrays or an NxHxWxC numpy array");
    }
    py::sequence seq = py::reinterpret_borrow<py::sequence>(images);
    descs.reserve(static_cast<size_t>(py::len(seq)));
    for (size_t i = 0; i < py::len(seq); ++i)
    {
        py::object item = seq[i];
        if (!py::isinstance<py::array>(item))
        {
            throw py::type_error(imageWhere(i) + "expected a numpy array, got "
                                 + py::type::handle_of(item).attr("__name__").cast<std::string>());
        }
        py::array a = py::reinterpret_borrow<py::array>(item);
        descs.push_back(describeImage(a, i));
        keepAlive.push_back(a);
    }
    return descs;
}

starnet::ResizeOutput describeOutput(const py::array& out, size_t batch)
{
    if (!(out.dtype().kind() == 'f' && out.itemsize() == 4))
    {
        throw std::invalid_argument("out: expected float32, got dtype " + std::string(py::str(out.dtype())));
    }
    if (out.ndim() != 4 || static_cast<size_t>(out.shape(0)) != batch || (out.shape(1) != 1 && out.shape(1) != 3))
    {
        throw std::invalid_argument(
            "out: expected shape (" + std::to_string(batch) + ", 1|3, H, W), got " + shapeString(out));
    }
    if (!(out.flags() & py::array::c_style))
    {
        throw std::invalid_argument("out: expected a C-contiguous array");
    }
    if (!out.writeable())
    {
        throw std::invalid_argument("out: array is read-only");
    }
    starnet::ResizeOutput o;
    o.data = static_cast<float*>(const_cast<void*>(out.data()));
    o.channels = static_cast<int32_t>(out.shape(1));
    o.height = static_cast<int32_t>(out.shape(2));
    o.width = static_cast<int32_t>(out.shape(3));
    return o;
}

bool parseChannelOrder(const std::string& order)
{
    if (order == "bgr")
    {
        return false;
    }
    if (order == "rgb")
    {
        return true;
    }
    throw std::invalid_argument("channel_order: expected 'bgr' or 'rgb', got '" + order + "'");
}

//! `resize`, `gray` and `interpolation` as ops.resize_normalize spells them.
starnet::ResizeMode parseResizeMode(
    const std::string& resize, const std::string& gray, const std::string& interpolation)
{
    starnet::ResizeMode mode;
    if (interpolation == "pil_bicubic")
    {
        mode.pilBicubic = true;
    }
    else if (interpolation != "linear")
    {
        throw std::invalid_argument("interpolation: expected 'linear' or 'pil_bicubic', got '" + interpolation + "'");
    }
    if (resize == "stretch")
    {
        mode.stretch = true;
    }
    else if (resize != "keep_ratio_pad_right")
    {
        throw std::invalid_argument("resize: expected 'keep_ratio_pad_right' or 'stretch', got '" + resize + "'");
    }
    if (gray == "pil")
    {
        mode.grayBeforeResize = true;
    }
    else if (gray != "bt601")
    {
        throw std::invalid_argument("gray: expected 'bt601' or 'pil', got '" + gray + "'");
    }
    return mode;
}

py::array requireArray(const py::object& obj, const char* name)
{
    if (!py::isinstance<py::array>(obj))
    {
        throw py::type_error(std::string(name) + ": expected a numpy array, got "
                             + py::type::handle_of(obj).attr("__name__").cast<std::string>());
    }
    return py::reinterpret_borrow<py::array>(obj);
}

py::array_t<int32_t> resizeNormalize(const py::object& images, const py::array& out, const std::string& channelOrder,
    int32_t numThreads, bool onDevice, const starnet::ResizeMode& mode)
{
    const bool inputIsRgb = parseChannelOrder(channelOrder);
    std::vector<py::array> keepAlive;
    const std::vector<ImageDesc> descs = describeBatch(images, keepAlive);
    if (descs.empty())
    {
        throw std::invalid_argument("images: expected at least one image, got an empty batch");
    }
    starnet::ResizeOutput o = describeOutput(out, descs.size());
    o.mode = mode;
    starnet::validateResizeArgs(descs, o);
    py::array_t<int32_t> widths(static_cast<py::ssize_t>(descs.size()));
    int32_t* w = widths.mutable_data();
    if (onDevice)
    {
#if defined(STARNET_WITH_CUDA)
        py::gil_scoped_release release;
        starnet::resizeNormalizeDevice(descs, o, inputIsRgb, w);
#else
        throw std::runtime_error("starnet_trt._core was built without CUDA");
#endif
    }
    else
    {
        py::gil_scoped_release release;
        starnet::resizeNormalizeCPU(descs, o, inputIsRgb, w, numThreads);
    }
    return widths;
}

starnet::ScoresView describeScores(const py::array& scores, int32_t blank)
{
    const bool isHalf = scores.dtype().kind() == 'f' && scores.itemsize() == 2;
    const bool isFloat = scores.dtype().kind() == 'f' && scores.itemsize() == 4;
    if (!isHalf && !isFloat)
    {
        throw std::invalid_argument(
            "scores: expected float32 or float16, got dtype " + std::string(py::str(scores.dtype())));
    }
    if (scores.ndim() != 3)
    {
        throw std::invalid_argument("scores: expected shape (N, T, C), got " + shapeString(scores));
    }
    starnet::ScoresView s;
    s.data = scores.data();
    s.isHalf = isHalf;
    s.batch = scores.shape(0);
    s.steps = scores.shape(1);
    s.classes = scores.shape(2);
    const py::ssize_t item = scores.itemsize();
    for (int i = 0; i < 3; ++i)
    {
        if (scores.strides(i) % item != 0)
        {
            throw std::invalid_argument("scores: strides must be multiples of the item size");
        }
    }
    s.strideN = scores.strides(0) / item;
    s.strideT = scores.strides(1) / item;
    s.strideC = scores.strides(2) / item;
    if (s.classes < 1)
    {
        throw std::invalid_argument("scores: expected at least one class, got shape " + shapeString(scores));
    }
    if (blank < 0 || blank >= s.classes)
    {
        throw std::invalid_argument(
            "blank: expected 0 <= blank < " + std::to_string(s.classes) + ", got " + std::to_string(blank));
    }
    return s;
}

py::tuple ctcGreedyDecode(const py::array& scoresIn, int32_t blank, int32_t numThreads, bool onDevice)
{
    py::array scores = scoresIn;
    if (onDevice && !(scores.flags() & py::array::c_style))
    {
        scores = py::array::ensure(scores, py::array::c_style);
    }
    const starnet::ScoresView s = describeScores(scores, blank);
    py::array_t<int32_t> indices({static_cast<py::ssize_t>(s.batch), static_cast<py::ssize_t>(s.steps)});
    py::array_t<int32_t> lengths(static_cast<py::ssize_t>(s.batch));
    py::array_t<float> confidences(static_cast<py::ssize_t>(s.batch));
    int64_t nanSample = -1;
    if (s.batch > 0)
    {
        int32_t* idx = indices.mutable_data();
        int32_t* len = lengths.mutable_data();
        float* conf = confidences.mutable_data();
        if (onDevice)
        {
#if defined(STARNET_WITH_CUDA)
            py::gil_scoped_release release;
            nanSample = starnet::ctcGreedyDecodeDevice(s, blank, idx, len, conf);
#else
            throw std::runtime_error("starnet_trt._core was built without CUDA");
#endif
        }
        else
        {
            py::gil_scoped_release release;
            nanSample = starnet::ctcGreedyDecodeCPU(s, blank, idx, len, conf, numThreads);
        }
    }
    if (nanSample >= 0)
    {
        throw std::invalid_argument("scores[" + std::to_string(nanSample) + "] contains NaN");
    }
    return py::make_tuple(indices, lengths, confidences);
}

py::list ctcBeamSearch(const py::array& scores, int32_t beamWidth, int32_t blank, int32_t numThreads)
{
    const starnet::ScoresView s = describeScores(scores, blank);
    if (beamWidth < 1)
    {
        throw std::invalid_argument("beam_width: expected >= 1, got " + std::to_string(beamWidth));
    }
    std::vector<starnet::BeamResult> results;
    starnet::BeamStatus status;
    {
        py::gil_scoped_release release;
        status = starnet::ctcBeamSearchCPU(s, blank, beamWidth, results, numThreads);
    }
    if (status.badSample >= 0)
    {
        throw std::invalid_argument(
            "scores[" + std::to_string(status.badSample) + "] contains "
            + (status.negative ? "a negative value (beam search expects probabilities)" : "NaN"));
    }
    py::list out;
    for (const starnet::BeamResult& r : results)
    {
        out.append(py::make_tuple(py::cast(r.indices), r.logProb));
    }
    return out;
}


bool isFloat32(const py::array& a)
{
    return a.dtype().kind() == 'f' && a.itemsize() == 4;
}

bool isFloat16(const py::array& a)
{
    return a.dtype().kind() == 'f' && a.itemsize() == 2;
}

starnet::tps::Padding parsePadding(const std::string& mode)
{
    if (mode == "zeros")
    {
        return starnet::tps::Padding::kZEROS;
    }
    if (mode == "border")
    {
        return starnet::tps::Padding::kBORDER;
    }
    throw std::invalid_argument("padding_mode: expected 'zeros' or 'border', got '" + mode + "'");
}

//! Validated, C-contiguous inputs of one tps_grid_sample call and its output array.
struct TpsCall
{
    starnet::TpsShape shape;
    py::array image;
    py::array fiducials;
    py::array out;
    py::array table; // used when hasTable; otherwise STAR-Net's TPS matrix (tpsGridMatrix)
    bool hasTable{false};
    bool imageHalf{false};
    bool fiducialsHalf{false};
};

TpsCall describeTps(const py::object& imageIn, const py::object& fiducialsIn, int32_t outHeight, int32_t outWidth,
    bool alignCorners, const std::string& paddingMode, const py::object& tableIn)
{
    TpsCall call;
    call.image = requireArray(imageIn, "image");
    call.fiducials = requireArray(fiducialsIn, "fiducials");
    if (!isFloat32(call.image) && !isFloat16(call.image))
    {
        throw std::invalid_argument(
            "image: expected float32 or float16, got dtype " + std::string(py::str(call.image.dtype())));
    }
    if (!isFloat32(call.fiducials) && !isFloat16(call.fiducials))
    {
        throw std::invalid_argument(
            "fiducials: expected float32 or float16, got dtype " + std::string(py::str(call.fiducials.dtype())));
    }
    if (call.image.ndim() != 4)
    {
        throw std::invalid_argument("image: expected shape (N, C, H, W), got " + shapeString(call.image));
    }
    if (call.fiducials.ndim() != 3 || call.fiducials.shape(2) != 2 || call.fiducials.shape(0) != call.image.shape(0))
    {
        throw std::invalid_argument("fiducials: expected shape (" + std::to_string(call.image.shape(0))
            + ", F, 2), got " + shapeString(call.fiducials));
    }
    for (py::ssize_t i = 1; i < 4; ++i)
    {
        if (call.image.shape(i) > INT32_MAX)
        {
            throw std::invalid_argument("image: dimension too large in shape " + shapeString(call.image));
        }
    }
    call.imageHalf = isFloat16(call.image);
    call.fiducialsHalf = isFloat16(call.fiducials);
    call.image = py::array::ensure(call.image, py::array::c_style);
    call.fiducials = py::array::ensure(call.fiducials, py::array::c_style);
    starnet::TpsShape& s = call.shape;
    s.batch = call.image.shape(0);
    s.channels = static_cast<int32_t>(call.image.shape(1));
    s.inHeight = static_cast<int32_t>(call.image.shape(2));
    s.inWidth = static_cast<int32_t>(call.image.shape(3));
    s.numFiducials = call.fiducials.shape(1) > INT32_MAX ? 0 : static_cast<int32_t>(call.fiducials.shape(1));
    s.outHeight = outHeight;
    s.outWidth = outWidth;
    s.alignCorners = alignCorners;
    s.padding = parsePadding(paddingMode);
    starnet::validateTpsShape(s);
    if (!tableIn.is_none())
    {
        py::array table = requireArray(tableIn, "table");
        const py::ssize_t pixels = static_cast<py::ssize_t>(outHeight) * outWidth;
        if (!isFloat32(table))
        {
            throw std::invalid_argument(
                "table: expected float32, got dtype " + std::string(py::str(table.dtype())));
        }
        if (table.ndim() != 2 || table.shape(0) != pixels || table.shape(1) != s.numFiducials)
        {
            throw std::invalid_argument("table: expected shape (" + std::to_string(pixels) + ", "
                + std::to_string(s.numFiducials) + ") = (out_height * out_width, F), got " + shapeString(table));
        }
        call.table = py::array::ensure(table, py::array::c_style);
        call.hasTable = true;
    }
    call.out = py::array(call.image.dtype(),
        std::vector<py::ssize_t>{static_cast<py::ssize_t>(s.batch), s.channels, outHeight, outWidth});
    return call;
}

py::array tpsGridSample(const py::object& image, const py::object& fiducials, int32_t outHeight, int32_t outWidth,
    bool alignCorners, const std::string& paddingMode, int32_t numThreads, bool onDevice, const py::object& table)
{
    TpsCall c = describeTps(image, fiducials, outHeight, outWidth, alignCorners, paddingMode, table);
    void* out = c.out.mutable_data();
    const float* rows = c.hasTable ? static_cast<const float*>(c.table.data()) : nullptr;
    if (onDevice)
    {
#if defined(STARNET_WITH_CUDA)
        py::gil_scoped_release release;
        starnet::tpsGridSampleDevice(
            c.shape, c.image.data(), c.imageHalf, c.fiducials.data(), c.fiducialsHalf, out, rows);
#else
        throw std::runtime_error("starnet_trt._core was built without CUDA");
#endif
    }
    else
    {
        py::gil_scoped_release release;
        starnet::tpsGridSampleCPU(
            c.shape, c.image.data(), c.imageHalf, c.fiducials.data(), c.fiducialsHalf, out, numThreads, rows);
    }
    return c.out;
}

//! Packed ImageDesc records for images stored densely (HWC uint8) at the given byte offsets of one device buffer.
py::array_t<uint8_t> imageDescriptors(const std::vector<std::tuple<int64_t, int32_t, int32_t, int32_t>>& images)
{
    py::array_t<uint8_t> out(static_cast<py::ssize_t>(images.size() * sizeof(ImageDesc)));
    uint8_t* dst = out.mutable_data();
    for (size_t i = 0; i < images.size(); ++i)
    {
        const auto& [offset, height, width, channels] = images[i];
        if (offset < 0 || height < 1 || width < 1 || (channels != 1 && channels != 3 && channels != 4))
        {
            throw std::invalid_argument(imageWhere(i) + "expected offset >= 0, positive sizes and 1, 3 or 4 channels");
        }
        const ImageDesc d{nullptr, offset, height, width, channels, static_cast<int64_t>(width) * channels, channels, 1};
        std::memcpy(dst + i * sizeof(ImageDesc), &d, sizeof(ImageDesc));
    }
    return out;
}

} // namespace

PYBIND11_MODULE(_core, m)
{
    m.doc() = "starnet-trt native core: CPU (and optionally CUDA) preprocessing and CTC decoding.";
#if defined(STARNET_WITH_CUDA)
    m.attr("has_cuda") = true;
    m.def("cuda_device_count", &starnet::cudaDeviceCount,
        "Number of visible CUDA devices; 0 when there is no driver or GPU (never raises).");
#else
    m.attr("has_cuda") = false;
    m.def(
        "cuda_device_count",
        []() {
            return 0;
        },
        "Always 0: this build has no CUDA support.");
#endif

    m.def(
        "resize_normalize",
        [](const py::object& images, const py::object& out, const std::string& channelOrder, int32_t numThreads,
            const std::string& resize, const std::string& gray, const std::string& interpolation) {
            return resizeNormalize(images, requireArray(out, "out"), channelOrder, numThreads, false,
                parseResizeMode(resize, gray, interpolation));
        },
        py::arg("images"), py::arg("out"), py::arg("channel_order") = "bgr", py::arg("num_threads") = 0,
        py::arg("resize") = "keep_ratio_pad_right", py::arg("gray") = "bt601", py::arg("interpolation") = "linear",
        "Resize (cv2 INTER_LINEAR or PIL BICUBIC; keep ratio + right pad, or stretch), normalise to [-1, 1] uint8 "
        "images into `out` (float32 [N, 1|3, H, W], C-contiguous); gray 'pil' converts each source pixel like PIL's "
        "convert('L') before resizing (1-channel out). Returns the valid widths (int32 [N]).");
    m.def(
        "resize_normalize_cuda",
        [](const py::object& images, const py::object& out, const std::string& channelOrder, const std::string& resize,
            const std::string& gray, const std::string& interpolation) {
            return resizeNormalize(images, requireArray(out, "out"), channelOrder, 0, true,
                parseResizeMode(resize, gray, interpolation));
        },
        py::arg("images"), py::arg("out"), py::arg("channel_order") = "bgr",
        py::arg("resize") = "keep_ratio_pad_right", py::arg("gray") = "bt601", py::arg("interpolation") = "linear",
        "Same as resize_normalize, computed by the CUDA kernel (host arrays in and out). Raises RuntimeError in a "
        "build without CUDA.");
    m.def(
        "ctc_greedy_decode",
        [](const py::object& scores, int32_t blank, int32_t numThreads) {
            return ctcGreedyDecode(requireArray(scores, "scores"), blank, numThreads, false);
        },
        py::arg("scores"), py::arg("blank") = 0, py::arg("num_threads") = 0,
        "CTC greedy decoding of float32/float16 scores [N, T, C]. Returns (indices int32 [N, T] padded with -1, "
        "lengths int32 [N], confidences float32 [N]).");
    m.def(
        "ctc_beam_search_decode",
        [](const py::object& scores, int32_t beamWidth, int32_t blank, int32_t numThreads) {
            return ctcBeamSearch(requireArray(scores, "scores"), beamWidth, blank, numThreads);
        },
        py::arg("scores"), py::arg("beam_width") = 10, py::arg("blank") = 0, py::arg("num_threads") = 0,
        "CTC prefix beam search on probabilities [N, T, C] (float32/float16). Returns, per sample, the best "
        "(class ids, natural-log probability).");
    m.def(
        "ctc_greedy_decode_cuda",
        [](const py::object& scores, int32_t blank) {
            return ctcGreedyDecode(requireArray(scores, "scores"), blank, 0, true);
        },
        py::arg("scores"), py::arg("blank") = 0,
        "Same as ctc_greedy_decode, computed by the CUDA kernel. Raises RuntimeError in a build without CUDA.");
    m.def(
        "tps_grid_sample",
        [](const py::object& image, const py::object& fiducials, int32_t outHeight, int32_t outWidth,
            bool alignCorners, const std::string& paddingMode, int32_t numThreads, const py::object& table) {
            return tpsGridSample(
                image, fiducials, outHeight, outWidth, alignCorners, paddingMode, numThreads, false, table);
        },
        py::arg("image"), py::arg("fiducials"), py::arg("out_height"), py::arg("out_width"),
        py::arg("align_corners") = true, py::arg("padding_mode") = "zeros", py::arg("num_threads") = 0,
        py::arg("table") = py::none(),
        "STAR-Net TPS rectification (StarNetTPSGridSample's CPU twin): image float32/float16 [N, C, H, W] and "
        "fiducials [N, F, 2] -> [N, C, out_height, out_width] in the image's dtype. table: optional float32 "
        "[out_height * out_width, F] matrix to use instead of STAR-Net's TPS matrix (the plugin's table mode).");
    m.def(
        "tps_grid_sample_cuda",
        [](const py::object& image, const py::object& fiducials, int32_t outHeight, int32_t outWidth,
            bool alignCorners, const std::string& paddingMode, const py::object& table) {
            return tpsGridSample(image, fiducials, outHeight, outWidth, alignCorners, paddingMode, 0, true, table);
        },
        py::arg("image"), py::arg("fiducials"), py::arg("out_height"), py::arg("out_width"),
        py::arg("align_corners") = true, py::arg("padding_mode") = "zeros", py::arg("table") = py::none(),
        "Same as tps_grid_sample, computed by the CUDA kernel (host arrays in and out). Raises RuntimeError in a "
        "build without CUDA.");
    m.def(
        "tps_grid_matrix",
        [](int32_t numFiducials, int32_t outHeight, int32_t outWidth) {
            starnet::TpsShape s;
            s.batch = 0;
            s.channels = 1;
            s.inHeight = 1;
            s.inWidth = 1;
            s.numFiducials = numFiducials;
            s.outHeight = outHeight;
            s.outWidth = outWidth;
            starnet::validateTpsShape(s);
            const std::vector<float>& a = starnet::tpsGridMatrix(numFiducials, outHeight, outWidth);
            py::array_t<float> out({static_cast<py::ssize_t>(outHeight) * outWidth, static_cast<py::ssize_t>(numFiducials)});
            std::memcpy(out.mutable_data(), a.data(), a.size() * sizeof(float));
            return out;
        },
        py::arg("num_fiducials"), py::arg("out_height"), py::arg("out_width"),
        "The TPS matrix A [out_height * out_width, F] (float32) that the sampler evaluates per pixel: grid = A @ "
        "fiducials.");
    m.def("image_descriptors", &imageDescriptors, py::arg("images"),
        "Packed descriptors (uint8 bytes) for the CUDA preprocess kernel: one (byte offset, height, width, channels) "
        "per dense HWC uint8 image inside one device buffer.");
#if defined(STARNET_WITH_CUDA)
    py::module_ raw = m.def_submodule("cuda", "Raw CUDA launchers on caller-owned device pointers and streams "
                                              "(integers, e.g. torch's data_ptr() and cuda_stream). Unchecked "
                                              "pointers: for tools/gpu_selftest and the runtime, not for apps.");
    raw.def(
        "tps_grid_sample",
        [](uintptr_t image, uintptr_t fiducials, uintptr_t out, int64_t batch, int32_t channels, int32_t inHeight,
            int32_t inWidth, int32_t numFiducials, int32_t outHeight, int32_t outWidth, bool alignCorners,
            const std::string& paddingMode, bool imageHalf, bool fiducialsHalf, uintptr_t stream,
            int32_t samplesPerBlock, uintptr_t table) {
            starnet::TpsShape s;
            s.batch = batch;
            s.channels = channels;
            s.inHeight = inHeight;
            s.inWidth = inWidth;
            s.numFiducials = numFiducials;
            s.outHeight = outHeight;
            s.outWidth = outWidth;
            s.alignCorners = alignCorners;
            s.padding = parsePadding(paddingMode);
            starnet::validateTpsShape(s);
            py::gil_scoped_release release;
            starnet::launchTpsGridSampleRaw(
                s, image, imageHalf, fiducials, fiducialsHalf, out, stream, samplesPerBlock, table);
        },
        py::arg("image"), py::arg("fiducials"), py::arg("out"), py::arg("batch"), py::arg("channels"),
        py::arg("in_height"), py::arg("in_width"), py::arg("num_fiducials"), py::arg("out_height"),
        py::arg("out_width"), py::arg("align_corners"), py::arg("padding_mode"), py::arg("image_half"),
        py::arg("fiducials_half"), py::arg("stream"), py::arg("samples_per_block") = 0, py::arg("table") = 0);
    raw.def(
        "ctc_greedy_decode",
        [](uintptr_t scores, bool isHalf, int32_t batch, int32_t steps, int32_t classes, int32_t blank,
            uintptr_t indices, uintptr_t lengths, uintptr_t confidences, uintptr_t nanFlags, uintptr_t stream) {
            py::gil_scoped_release release;
            starnet::launchCtcGreedyDecodeRaw(
                scores, isHalf, batch, steps, classes, blank, indices, lengths, confidences, nanFlags, stream);
        },
        py::arg("scores"), py::arg("is_half"), py::arg("batch"), py::arg("steps"), py::arg("classes"),
        py::arg("blank"), py::arg("indices"), py::arg("lengths"), py::arg("confidences"), py::arg("nan_flags"),
        py::arg("stream"));
    raw.def(
        "resize_normalize",
        [](uintptr_t images, uintptr_t descs, int32_t batch, uintptr_t out, bool outHalf, int32_t outChannels,
            int32_t outH, int32_t outW, const std::string& channelOrder, uintptr_t widths, uintptr_t stream,
            const std::string& resize, const std::string& gray, const std::string& interpolation,
            int32_t bandsPerImage, int32_t pixelsPerThread, int32_t sourceStaging) {
            const bool rgb = parseChannelOrder(channelOrder);
            const starnet::ResizeMode mode = parseResizeMode(resize, gray, interpolation);
            py::gil_scoped_release release;
            starnet::launchResizeNormalizeRaw(images, descs, batch, out, outHalf, outChannels, outH, outW, rgb,
                widths, stream, mode, starnet::ResizeTuning{bandsPerImage, pixelsPerThread, sourceStaging});
        },
        py::arg("images"), py::arg("descs"), py::arg("batch"), py::arg("out"), py::arg("out_half"),
        py::arg("out_channels"), py::arg("out_height"), py::arg("out_width"), py::arg("channel_order"),
        py::arg("widths"), py::arg("stream"), py::arg("resize") = "keep_ratio_pad_right", py::arg("gray") = "bt601",
        py::arg("interpolation") = "linear", py::arg("bands_per_image") = 0, py::arg("pixels_per_thread") = 0,
        py::arg("source_staging") = 0);
#endif
}
