// Separable bilinear / bicubic resizing; see resize.hpp for the conventions reproduced.
//
// Each output index gets a short list of (source index, weight) taps. Weights that land on the same
// source index (clamped border taps) are summed first, in tap order, exactly like the Python module
// builds its dense matrices with np.add.at. The exact float32 / float64 steps below mirror
// zoe_export/preprocess.py line by line; the library is compiled with -ffp-contract=off so the
// compiler cannot fuse them into FMAs and change the rounding.
#include "zoe/resize.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace zoe {
namespace {

struct Tap {
    int index;
    double weight;
};

using Taps = std::vector<Tap>;
using Kernel = std::vector<Taps>;  // one tap list per output index

constexpr double kCubicA = -0.75;  // PyTorch's cubic convolution coefficient

void add_tap(Taps& taps, int index, double weight) {
    for (Tap& tap : taps) {
        if (tap.index == index) {
            tap.weight += weight;
            return;
        }
    }
    taps.push_back({index, weight});
}

// align_corners=True: src = o * float32((in - 1) / (out - 1)), all in float32.
Taps bilinear_taps(int size_in, float scale, int out_index) {
    const float src = static_cast<float>(out_index) * scale;
    const int i0 = std::min(static_cast<int>(std::floor(src)), size_in - 1);
    const int i1 = std::min(i0 + 1, size_in - 1);
    const double frac = static_cast<double>(src) - static_cast<double>(i0);
    Taps taps;
    add_tap(taps, i0, 1.0 - frac);
    add_tap(taps, i1, frac);
    return taps;
}

double cubic_near(double x) {  // |x| <= 1
    const double a = kCubicA;
    return ((a + 2) * x - (a + 3)) * x * x + 1;
}

double cubic_far(double x) {  // 1 < |x| < 2
    const double a = kCubicA;
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

// Weights for taps at offsets -1, 0, 1, 2; the distances are formed in float32 as PyTorch does.
std::array<double, 4> cubic_weights(float t) {
    const float one = 1.0f;
    const float back = one - t;
    return {cubic_far(static_cast<double>(t + one)), cubic_near(static_cast<double>(t)),
            cubic_near(static_cast<double>(back)), cubic_far(static_cast<double>(back + one))};
}

// align_corners=False: src = float32((o + 0.5) * scale - 0.5), computed in double, rounded once.
Taps bicubic_taps(int size_in, double scale, int out_index) {
    const float src = static_cast<float>((static_cast<double>(out_index) + 0.5) * scale - 0.5);
    const float base = std::floor(src);
    const std::array<double, 4> weights = cubic_weights(src - base);
    Taps taps;
    for (int k = 0; k < 4; ++k) {
        const int index = std::clamp(static_cast<int>(base) - 1 + k, 0, size_in - 1);
        add_tap(taps, index, weights[static_cast<std::size_t>(k)]);
    }
    return taps;
}

// Taps for output indices [first, first + count) of a resize from size_in to size_out.
Kernel make_kernel(Interpolation method, int size_in, int size_out, int first, int count) {
    Kernel kernel;
    kernel.reserve(static_cast<std::size_t>(count));
    if (method == Interpolation::Bilinear) {
        const double ratio =
            size_out > 1 ? static_cast<double>(size_in - 1) / static_cast<double>(size_out - 1) : 0.0;
        const float scale = static_cast<float>(ratio);
        for (int o = first; o < first + count; ++o) kernel.push_back(bilinear_taps(size_in, scale, o));
    } else {
        const double scale =
            static_cast<double>(static_cast<float>(static_cast<double>(size_in) / static_cast<double>(size_out)));
        for (int o = first; o < first + count; ++o) kernel.push_back(bicubic_taps(size_in, scale, o));
    }
    return kernel;
}

std::size_t offset(int y, int x, int width, int channels) {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) *
           static_cast<std::size_t>(channels);
}

// Every input row resampled horizontally, kept in double.
std::vector<double> resample_rows(const FloatImage& image, const Kernel& cols) {
    const int out_w = static_cast<int>(cols.size());
    const int channels = image.channels;
    std::vector<double> result(offset(image.height, 0, out_w, channels), 0.0);
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < out_w; ++x) {
            double* out = &result[offset(y, x, out_w, channels)];
            for (const Tap& tap : cols[static_cast<std::size_t>(x)]) {
                const float* in = &image.values[offset(y, tap.index, image.width, channels)];
                for (int c = 0; c < channels; ++c) out[c] += tap.weight * static_cast<double>(in[c]);
            }
        }
    }
    return result;
}

// Resample the horizontally resampled rows vertically and round to float32.
FloatImage resample_columns(const std::vector<double>& rows_done, int width, int channels, const Kernel& rows) {
    FloatImage out = make_float_image({static_cast<int>(rows.size()), width}, channels);
    std::vector<double> sum(static_cast<std::size_t>(channels));
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < width; ++x) {
            std::fill(sum.begin(), sum.end(), 0.0);
            for (const Tap& tap : rows[static_cast<std::size_t>(y)]) {
                const double* in = &rows_done[offset(tap.index, x, width, channels)];
                for (int c = 0; c < channels; ++c) sum[static_cast<std::size_t>(c)] += tap.weight * in[c];
            }
            float* dst = &out.values[offset(y, x, width, channels)];
            for (int c = 0; c < channels; ++c) dst[c] = static_cast<float>(sum[static_cast<std::size_t>(c)]);
        }
    }
    return out;
}

void check_image(const FloatImage& image) {
    const bool shape_ok = image.height >= 1 && image.width >= 1 && image.channels >= 1;
    if (!shape_ok || image.values.size() != offset(image.height, 0, image.width, image.channels)) {
        throw Error("cannot resize an image of " + std::to_string(image.height) + "x" +
                    std::to_string(image.width) + "x" + std::to_string(image.channels) + " holding " +
                    std::to_string(image.values.size()) + " values; expected a non-empty HxWxC image.");
    }
}

void check_window(Size size, Box window) {
    if (size.height < 1 || size.width < 1) {
        throw Error("resize target " + std::to_string(size.height) + "x" + std::to_string(size.width) +
                    " must be positive (height, width).");
    }
    const bool inside = window.top >= 0 && window.left >= 0 && window.height >= 1 && window.width >= 1 &&
                        window.top + window.height <= size.height && window.left + window.width <= size.width;
    if (!inside) {
        throw Error("resize window (top " + std::to_string(window.top) + ", left " + std::to_string(window.left) +
                    ", " + std::to_string(window.height) + "x" + std::to_string(window.width) +
                    ") does not lie inside the " + std::to_string(size.height) + "x" +
                    std::to_string(size.width) + " output.");
    }
}

}  // namespace

FloatImage make_float_image(Size size, int channels) {
    FloatImage image;
    image.height = size.height;
    image.width = size.width;
    image.channels = channels;
    image.values.assign(offset(size.height, 0, size.width, channels), 0.0f);
    return image;
}

Interpolation parse_interpolation(const std::string& name) {
    if (name == "bilinear") return Interpolation::Bilinear;
    if (name == "bicubic") return Interpolation::Bicubic;
    throw Error("unknown interpolation '" + name + "'; choose one of: bicubic, bilinear.");
}

FloatImage resize_window(const FloatImage& image, Size size, Box window, Interpolation method) {
    check_image(image);
    check_window(size, window);
    const Kernel cols = make_kernel(method, image.width, size.width, window.left, window.width);
    const Kernel rows = make_kernel(method, image.height, size.height, window.top, window.height);
    return resample_columns(resample_rows(image, cols), window.width, image.channels, rows);
}

FloatImage resize(const FloatImage& image, Size size, Interpolation method) {
    return resize_window(image, size, {0, 0, size.height, size.width}, method);
}

}  // namespace zoe
