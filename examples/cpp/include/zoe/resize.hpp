// Separable resizing that reproduces zoe_export/preprocess.py (and so PyTorch's F.interpolate):
//   bilinear: align_corners=True, source index computed in float32;
//   bicubic:  align_corners=False, A = -0.75, float32 source index, taps clamped at the border.
// Weights and accumulation are double precision, the result is rounded to float32 once, as the
// Python module does with its float64 matrices.
#pragma once

#include "zoe/image.hpp"

namespace zoe {

enum class Interpolation { Bilinear, Bicubic };

// "bilinear" or "bicubic"; throws zoe::Error for anything else.
Interpolation parse_interpolation(const std::string& name);

// Resize an HxWxC image to `size`.
FloatImage resize(const FloatImage& image, Size size, Interpolation method);

// The part `window` of resize(image, size, method), computed without the rest of the output.
FloatImage resize_window(const FloatImage& image, Size size, Box window, Interpolation method);

inline FloatImage resize_bilinear(const FloatImage& image, Size size) {
    return resize(image, size, Interpolation::Bilinear);
}

inline FloatImage resize_bicubic(const FloatImage& image, Size size) {
    return resize(image, size, Interpolation::Bicubic);
}

}  // namespace zoe
