// Pre- and post-processing around a ZoeDepth engine, matching zoe_export/preprocess.py:
//   prepare()             RGB image -> model input (reflect padding, resize to the model size, layout)
//   flip_average()        (2,1,H,W) depth of [x, flip(x)] -> (H,W) depth
//   restore()             (H,W) model-size depth -> depth at the original image size
//   official_model_size() the size a dynamic-size engine runs an image at (reflect padding + "minimal" rule)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "zoe/image.hpp"
#include "zoe/resize.hpp"

namespace zoe {

// How an engine takes its `image` input.
enum class InputFormat {
    FloatNchw,  // "float-nchw": float32 (B, 3, H, W), RGB in [0, 1]
    Uint8Nhwc,  // "uint8-nhwc": uint8 (B, H, W, 3), RGB 0-255
};

// "float-nchw" or "uint8-nhwc"; throws zoe::Error for anything else.
InputFormat parse_input_format(const std::string& name);
const char* to_string(InputFormat format);

// How the (padded) image is fitted into the model size.
enum class Fit {
    Stretch,    // resize to the model size, ignoring the aspect ratio (the official recipe)
    Letterbox,  // keep the aspect ratio, centre, fill the border by reflecting the content
};

// "stretch" or "letterbox"; throws zoe::Error for anything else.
Fit parse_fit(const std::string& name);

// The engine's input: spatial size (positive multiples of 32) and format.
struct ModelInput {
    int height = 384;
    int width = 512;
    InputFormat format = InputFormat::FloatNchw;
};

struct PrepareOptions {
    Fit fit = Fit::Stretch;
    bool pad_input = true;    // reflect-pad the image first, as the official infer() does
    double pad_factor = 3.0;  // padding per side = int(sqrt(size / 2) * pad_factor)
    bool flip_batch = false;  // make a batch of 2: the image and its horizontal mirror
};

// Where the image went inside the model input: everything restore() needs.
struct Placement {
    Size model;     // the model input size (H, W)
    Size original;  // the image size before padding
    Size padding;   // rows and columns reflected on each side
    Box content;    // the region of the model input holding the (padded) image
};

// A model-ready batch. Exactly one of `nchw` / `nhwc` holds data, following input.format.
struct Prepared {
    ModelInput input;
    Placement placement;
    int batch = 1;
    std::vector<float> nchw;         // float-nchw: batch x 3 x H x W
    std::vector<std::uint8_t> nhwc;  // uint8-nhwc: batch x H x W x 3

    const void* data() const;
    std::size_t size_bytes() const;
};

// Rows and columns of reflection padding per side for an image of `size`.
Size reflect_padding(Size size, double pad_factor = 3.0);

// The MiDaS "minimal" keep-aspect rule (preprocess.minimal_size): of the scales target / size per side, the one
// closer to 1 (the height's on a tie) scales both sides, each rounded to a multiple of `multiple_of` (half to
// even), in double precision exactly as the Python code computes it.
Size minimal_size(Size size, Size target, int multiple_of = 32);

// The model size the official infer() runs an image of `image` pixels at, for a model of native size `net`
// (preprocess.official_model_size): reflect-pad the image, then minimal_size of the padded size. What a
// dynamic-size engine (zoe-export onnx --dynamic-size) is given per frame.
Size official_model_size(Size image, Size net, double pad_factor = 3.0);

// uint8 RGB -> float32 RGB in [0, 1] (value / 255).
FloatImage to_float_rgb(const RgbImage& image);

// Reflect-pad (the edge pixel is not repeated) `padding` rows/columns on each side.
FloatImage reflect_pad(const FloatImage& image, Size padding);

// Turn an RGB image of any size into the engine's input.
Prepared prepare(const RgbImage& image, const ModelInput& input, const PrepareOptions& options = {});

// Average the depth of an image and its mirror: `pair` is (2, 1, H, W) float32 for [x, flip(x)].
std::vector<float> flip_average(const float* pair, Size model);

// Map (H, W) model-size depth back to the original image size (row-major, original.height x width).
std::vector<float> restore(const float* depth, const Placement& placement,
                           Interpolation method = Interpolation::Bicubic);

}  // namespace zoe
