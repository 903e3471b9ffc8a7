// Basic value types shared by the zoe_preprocess library: sizes, boxes, images, the error type.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace zoe {

// Every failure in the library is reported as a zoe::Error with a message meant for the user.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Size {
    int height = 0;
    int width = 0;
};

// A rectangle inside an image: top-left corner plus extent, in pixels.
struct Box {
    int top = 0;
    int left = 0;
    int height = 0;
    int width = 0;
};

// 8-bit RGB, row-major, interleaved: pixels[(y * width + x) * 3 + c].
struct RgbImage {
    int height = 0;
    int width = 0;
    std::vector<std::uint8_t> pixels;
};

// float32 HxWxC, row-major, interleaved: values[(y * width + x) * channels + c].
struct FloatImage {
    int height = 0;
    int width = 0;
    int channels = 0;
    std::vector<float> values;

    Size size() const { return {height, width}; }
};

// An HxWxC image of zeros.
FloatImage make_float_image(Size size, int channels);

}  // namespace zoe
