// Checks that need neither a GPU nor TensorRT: the sidecar, the engine bytes, the environment, the inputs.
// Predictor runs all of them before its first CUDA or TensorRT call; the Python bindings expose them so the
// tests exercise the same code on CPU-only machines.
#pragma once

#include "starnet/predictor.h"

#include <string>
#include <vector>

namespace starnet
{

//! NAME.engine -> NAME.json (the builder's rule: the suffix replaced, or ".json" appended when there is none).
std::string defaultSidecarPath(const std::string& enginePath);

//! The sidecar's content as EngineInfo. Throws std::invalid_argument when it is not a usable starnet-trt sidecar.
EngineInfo parseSidecar(const std::string& text, const std::string& sidecarPath);

//! inspectEngine, also handing back the checked engine bytes (what Predictor deserializes: hashing and
//! deserializing the same buffer leaves no window for the file to change in between).
EngineInfo readCheckedEngine(const std::string& enginePath, const std::string& sidecarPath, std::vector<char>& bytes);

//! Splits UTF-8 text into code points (std::invalid_argument on malformed UTF-8).
std::vector<std::string> splitUtf8(const std::string& text);

} // namespace starnet
