// SHA-256 of a byte range (FIPS 180-4), so the runtime can check an engine against its sidecar's engine_sha256
// on the very bytes it is about to deserialize, without a crypto dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace starnet
{

//! Lower-case hex digest (64 characters) of `size` bytes at `data`.
std::string sha256Hex(const void* data, size_t size);

} // namespace starnet
