// How resize_normalize fits an image into the model input, shared by the CPU loops and the CUDA kernel.
#pragma once

#include <cstdint>

namespace starnet
{

//! The defaults are PaddleOCR's resize_norm_img; {true, true, true} is DTRB's demo/eval pipeline (PIL convert("L")
//! then ResizeNormalize).
struct ResizeMode
{
    //! false: keep the aspect ratio at the output height, width min(ceil(outH * w / h), outW), zero padding on the
    //! right. true: every image is resized to exactly outW x outH (no padding).
    bool stretch{false};
    //! 1-channel outputs only. false: BT.601 luma (float) of the resized B, G, R values. true: PIL's
    //! Image.convert("L") of each *source* pixel (integer, rounded), then the resize.
    bool grayBeforeResize{false};
    //! false: bilinear exactly as cv2.resize(INTER_LINEAR). true: PIL's Image.resize(BICUBIC), antialiased when
    //! shrinking (csrc/core/pilResampleImpl.h).
    bool pilBicubic{false};
};

//! Launch geometry of the bilinear kernel, for tuning (tools/gpu_selftest); 0 picks the default. A block owns a
//! band of output rows of one image; `bandsPerImage` bands split each image (default: enough to fill one wave of
//! resident blocks), and each thread gathers `pixelsPerThread` pixels (1 or 2; default 2) before its stores.
//! `sourceStaging`: 1 gathers every tap from global memory; 2 first copies the source rows of the block's band
//! into shared memory (16-byte asynchronous copies, all in flight at once) and gathers there, where the rows fit
//! (other blocks of the launch gather from global memory); 0 is the default, 1 for now.
//! Ignored by the PIL bicubic path.
struct ResizeTuning
{
    int32_t bandsPerImage{0};
    int32_t pixelsPerThread{0};
    int32_t sourceStaging{0};
};

constexpr int32_t kSTAGING_DEFAULT = 0;
constexpr int32_t kSTAGING_OFF = 1;
constexpr int32_t kSTAGING_ON = 2;

} // namespace starnet
