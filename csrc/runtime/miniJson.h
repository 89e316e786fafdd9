// A small JSON reader for the engine sidecar (RFC 8259 values; no third-party dependency in the runtime).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace starnet
{
namespace json
{

//! A parsed JSON value. Objects keep their members in file order.
struct Value
{
    enum class Kind
    {
        kNULL,
        kBOOL,
        kNUMBER,
        kSTRING,
        kARRAY,
        kOBJECT
    };
    Kind kind{Kind::kNULL};
    bool boolean{false};
    double number{0.0};
    std::string string;
    std::vector<Value> items;
    std::vector<std::pair<std::string, Value>> members;

    //! The member `key` of an object, or nullptr (also when this is not an object).
    const Value* find(const std::string& key) const;
};

//! Parses a whole document. Throws std::invalid_argument naming the byte offset of the first error.
Value parse(const std::string& text);

} // namespace json
} // namespace starnet
