#include "pnmImage.h"

#include <cctype>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace starnet
{
namespace demo
{
namespace
{

//! The next header integer, skipping whitespace and '#' comments.
int64_t headerInt(const std::string& data, size_t& pos, const std::string& path)
{
    while (pos < data.size())
    {
        if (data[pos] == '#')
        {
            while (pos < data.size() && data[pos] != '\n')
            {
                ++pos;
            }
        }
        else if (std::isspace(static_cast<unsigned char>(data[pos])))
        {
            ++pos;
        }
        else
        {
            break;
        }
    }
    int64_t value = 0;
    size_t start = pos;
    while (pos < data.size() && std::isdigit(static_cast<unsigned char>(data[pos])) && pos - start < 9)
    {
        value = value * 10 + (data[pos++] - '0');
    }
    if (pos == start)
    {
        throw std::runtime_error(path + ": malformed PNM header");
    }
    return value;
}

} // namespace

PnmImage readPnm(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        throw std::runtime_error(path + ": cannot open");
    }
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6'))
    {
        throw std::runtime_error(path + ": not a binary PGM/PPM (P5/P6) file");
    }
    size_t pos = 2;
    PnmImage image;
    image.channels = data[1] == '5' ? 1 : 3;
    int64_t width = headerInt(data, pos, path);
    int64_t height = headerInt(data, pos, path);
    int64_t maxval = headerInt(data, pos, path);
    if (width < 1 || height < 1 || width > 65535 || height > 65535 || maxval < 1 || maxval > 255)
    {
        throw std::runtime_error(path + ": unsupported size or maxval (8-bit images up to 65535 pixels a side)");
    }
    ++pos; // the single whitespace character after maxval
    size_t bytes = static_cast<size_t>(width) * height * image.channels;
    if (pos > data.size() || data.size() - pos < bytes)
    {
        throw std::runtime_error(path + ": truncated pixel data");
    }
    image.width = static_cast<int32_t>(width);
    image.height = static_cast<int32_t>(height);
    image.pixels.assign(data.begin() + static_cast<std::ptrdiff_t>(pos),
        data.begin() + static_cast<std::ptrdiff_t>(pos + bytes));
    if (maxval != 255)
    {
        for (auto& p : image.pixels)
        {
            p = static_cast<uint8_t>((p * 255 + maxval / 2) / maxval);
        }
    }
    return image;
}

} // namespace demo
} // namespace starnet
