#include "runtime/miniJson.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace starnet
{
namespace json
{
namespace
{

constexpr int kMAX_DEPTH = 64;

class Parser
{
public:
    explicit Parser(const std::string& text)
        : mText(text)
    {
    }

    Value document()
    {
        Value v = value(0);
        skipSpace();
        if (mPos != mText.size())
        {
            fail("trailing characters after the JSON value");
        }
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const
    {
        throw std::invalid_argument("invalid JSON at byte " + std::to_string(mPos) + ": " + what);
    }

    void skipSpace()
    {
        while (mPos < mText.size()
            && (mText[mPos] == ' ' || mText[mPos] == '\n' || mText[mPos] == '\r' || mText[mPos] == '\t'))
        {
            ++mPos;
        }
    }

    bool consume(const char* word)
    {
        size_t n = std::char_traits<char>::length(word);
        if (mText.compare(mPos, n, word) == 0)
        {
            mPos += n;
            return true;
        }
        return false;
    }

    Value value(int depth)
    {
        if (depth > kMAX_DEPTH)
        {
            fail("nested too deeply");
        }
        skipSpace();
        if (mPos >= mText.size())
        {
            fail("unexpected end of input");
        }
        Value v;
        char c = mText[mPos];
        if (c == '{')
        {
            v.kind = Value::Kind::kOBJECT;
            ++mPos;
            skipSpace();
            if (mPos < mText.size() && mText[mPos] == '}')
            {
                ++mPos;
                return v;
            }
            while (true)
            {
                skipSpace();
                if (mPos >= mText.size() || mText[mPos] != '"')
                {
                    fail("expected a member name");
                }
                std::string key = string();
                skipSpace();
                if (mPos >= mText.size() || mText[mPos] != ':')
                {
                    fail("expected ':'");
                }
                ++mPos;
                v.members.emplace_back(std::move(key), value(depth + 1));
                skipSpace();
                if (mPos < mText.size() && mText[mPos] == ',')
                {
                    ++mPos;
                    continue;
                }
                if (mPos < mText.size() && mText[mPos] == '}')
                {
                    ++mPos;
                    return v;
                }
                fail("expected ',' or '}'");
            }
        }
        if (c == '[')
        {
            v.kind = Value::Kind::kARRAY;
            ++mPos;
            skipSpace();
            if (mPos < mText.size() && mText[mPos] == ']')
            {
                ++mPos;
                return v;
            }
            while (true)
            {
                v.items.push_back(value(depth + 1));
                skipSpace();
                if (mPos < mText.size() && mText[mPos] == ',')
                {
                    ++mPos;
                    continue;
                }
                if (mPos < mText.size() && mText[mPos] == ']')
                {
                    ++mPos;
                    return v;
                }
                fail("expected ',' or ']'");
            }
        }
        if (c == '"')
        {
            v.kind = Value::Kind::kSTRING;
            v.string = string();
            return v;
        }
        if (consume("true") || consume("false"))
        {
            v.kind = Value::Kind::kBOOL;
            v.boolean = mText[mPos - 1] == 'e' && mText[mPos - 2] == 'u';
            return v;
        }
        if (consume("null"))
        {
            return v;
        }
        if (c == '-' || (c >= '0' && c <= '9'))
        {
            const char* begin = mText.c_str() + mPos;
            char* end = nullptr;
            v.kind = Value::Kind::kNUMBER;
            v.number = std::strtod(begin, &end);
            if (end == begin)
            {
                fail("bad number");
            }
            mPos += static_cast<size_t>(end - begin);
            return v;
        }
        fail(std::string("unexpected character '") + c + "'");
    }

    uint32_t hex4()
    {
        if (mPos + 4 > mText.size())
        {
            fail("truncated \\u escape");
        }
        uint32_t code = 0;
        for (int i = 0; i < 4; ++i)
        {
            char h = mText[mPos++];
            code <<= 4;
            if (h >= '0' && h <= '9')
                code |= static_cast<uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f')
                code |= static_cast<uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
                code |= static_cast<uint32_t>(h - 'A' + 10);
            else
                fail("bad \\u escape");
        }
        return code;
    }

    static void appendUtf8(std::string& out, uint32_t code)
    {
        if (code < 0x80)
        {
            out += static_cast<char>(code);
        }
        else if (code < 0x800)
        {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
        else if (code < 0x10000)
        {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
        else
        {
            out += static_cast<char>(0xF0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    std::string string()
    {
        ++mPos; // opening quote
        std::string out;
        while (true)
        {
            if (mPos >= mText.size())
            {
                fail("unterminated string");
            }
            char c = mText[mPos++];
            if (c == '"')
            {
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20)
            {
                fail("control character in a string");
            }
            if (c != '\\')
            {
                out += c;
                continue;
            }
            if (mPos >= mText.size())
            {
                fail("truncated escape");
            }
            char e = mText[mPos++];
            switch (e)
            {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u':
            {
                uint32_t code = hex4();
                if (code >= 0xD800 && code < 0xDC00 && mText.compare(mPos, 2, "\\u") == 0)
                {
                    mPos += 2;
                    uint32_t low = hex4();
                    if (low < 0xDC00 || low > 0xDFFF)
                    {
                        fail("bad surrogate pair");
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                }
                appendUtf8(out, code);
                break;
            }
            default: fail("bad escape");
            }
        }
    }

    const std::string& mText;
    size_t mPos{0};
};

} // namespace

const Value* Value::find(const std::string& key) const
{
    for (const auto& member : members)
    {
        if (member.first == key)
        {
            return &member.second;
        }
    }
    return nullptr;
}

Value parse(const std::string& text)
{
    return Parser(text).document();
}

} // namespace json
} // namespace starnet
