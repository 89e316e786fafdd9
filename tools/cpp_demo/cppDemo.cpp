// starnet_cpp_demo: recognize word images with a starnet-trt engine from C++ alone (no Python).
//   starnet_cpp_demo engines/starnet_mv3.engine word1.ppm word2.pgm ...
// Prints one "path<TAB>text<TAB>confidence" line per image. Images are binary PPM (RGB) or PGM (gray).
#include "pnmImage.h"

#include <starnet/predictor.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    if (argc < 3)
    {
        std::fprintf(stderr, "usage: %s ENGINE IMAGE.ppm|IMAGE.pgm [...]\n", argv[0]);
        return 2;
    }
    try
    {
        std::vector<starnet::demo::PnmImage> images;
        for (int i = 2; i < argc; ++i)
        {
            images.push_back(starnet::demo::readPnm(argv[i]));
        }
        starnet::Predictor predictor(argv[1]);
        // PPM pixels are RGB; the model wants BGR (OpenCV's order), so run RGB and gray images as separate batches
        // with the matching channel order instead of converting on the CPU.
        std::vector<starnet::TextResult> results(images.size());
        for (bool rgb : {true, false})
        {
            std::vector<starnet::ImageView> views;
            std::vector<size_t> positions;
            for (size_t i = 0; i < images.size(); ++i)
            {
                const auto& im = images[i];
                if ((im.channels == 3) != rgb)
                {
                    continue;
                }
                views.push_back(starnet::ImageView{im.pixels.data(), im.height, im.width, im.channels,
                    static_cast<int64_t>(im.width) * im.channels, im.channels, 1});
                positions.push_back(i);
            }
            if (views.empty())
            {
                continue;
            }
            std::vector<starnet::TextResult> texts = predictor.texts(predictor.run(views, rgb));
            for (size_t k = 0; k < positions.size(); ++k)
            {
                results[positions[k]] = texts[k];
            }
        }
        for (size_t i = 0; i < images.size(); ++i)
        {
            std::printf("%s\t%s\t%.4f\n", argv[i + 2], results[i].text.c_str(), results[i].confidence);
        }
        return 0;
    }
    catch (const std::exception& e)
    {
        std::fprintf(stderr, "starnet_cpp_demo: %s\n", e.what());
        return 1;
    }
}
