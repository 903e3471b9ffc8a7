// prepare / flip_average / restore, step for step as zoe_export/preprocess.py does them.
#include "zoe/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

namespace zoe {
namespace {

std::string size_text(Size size) { return std::to_string(size.height) + "x" + std::to_string(size.width); }

std::size_t pixel_count(Size size) {
    return static_cast<std::size_t>(size.height) * static_cast<std::size_t>(size.width);
}

enum class PadMode { Reflect, Edge };  // numpy.pad's mode="reflect" / mode="edge"

// Source index of padded position i (i < 0 or i >= n in the padding) along an axis of n pixels.
int source_index(int i, int n, PadMode mode) {
    if (mode == PadMode::Edge) return std::clamp(i, 0, n - 1);
    if (i < 0) return -i;                // mirrored about the first pixel, which is not repeated
    if (i >= n) return 2 * (n - 1) - i;  // and about the last one
    return i;
}

struct Pads {
    int top = 0;
    int bottom = 0;
    int left = 0;
    int right = 0;
};

// np.pad(image, ((top, bottom), (left, right), (0, 0)), mode); reflect needs every pad <= n - 1.
FloatImage pad_image(const FloatImage& image, Pads pads, PadMode mode) {
    const Size size{image.height + pads.top + pads.bottom, image.width + pads.left + pads.right};
    FloatImage out = make_float_image(size, image.channels);
    const std::size_t channels = static_cast<std::size_t>(image.channels);
    for (int y = 0; y < size.height; ++y) {
        const int sy = source_index(y - pads.top, image.height, mode);
        for (int x = 0; x < size.width; ++x) {
            const int sx = source_index(x - pads.left, image.width, mode);
            const std::size_t src = (static_cast<std::size_t>(sy) * static_cast<std::size_t>(image.width) +
                                     static_cast<std::size_t>(sx)) * channels;
            const std::size_t dst = (static_cast<std::size_t>(y) * static_cast<std::size_t>(size.width) +
                                     static_cast<std::size_t>(x)) * channels;
            std::copy_n(&image.values[src], channels, &out.values[dst]);
        }
    }
    return out;
}

void check_model_input(const ModelInput& input) {
    const bool ok = input.height > 0 && input.width > 0 && input.height % 32 == 0 && input.width % 32 == 0;
    if (!ok) {
        throw Error("model input size " + size_text({input.height, input.width}) +
                    " is invalid; pass height and width as positive multiples of 32, e.g. 384x512.");
    }
}

void check_rgb(const RgbImage& image) {
    const Size size{image.height, image.width};
    if (image.height < 1 || image.width < 1 || image.pixels.size() != pixel_count(size) * 3) {
        throw Error("image of " + size_text(size) + " holding " + std::to_string(image.pixels.size()) +
                    " bytes is invalid; expected at least 1x1 pixels of 3 bytes (RGB).");
    }
}

// Keep-aspect resize into the model size, centred, border filled by reflecting the content.
FloatImage letterbox(const FloatImage& image, Size model, Box& content) {
    const double scale = std::min(static_cast<double>(model.height) / image.height,
                                  static_cast<double>(model.width) / image.width);
    // Python's round() is round-half-to-even, as std::nearbyint in the default rounding mode.
    const int new_h = std::min(model.height, std::max(1, static_cast<int>(std::nearbyint(image.height * scale))));
    const int new_w = std::min(model.width, std::max(1, static_cast<int>(std::nearbyint(image.width * scale))));
    content = {(model.height - new_h) / 2, (model.width - new_w) / 2, new_h, new_w};
    const Pads pads{content.top, model.height - new_h - content.top, content.left, model.width - new_w - content.left};
    const bool reflect_fits =
        std::max(pads.top, pads.bottom) <= new_h - 1 && std::max(pads.left, pads.right) <= new_w - 1;
    const FloatImage fitted = resize_bilinear(image, {new_h, new_w});
    return pad_image(fitted, pads, reflect_fits ? PadMode::Reflect : PadMode::Edge);
}

// HxWx3 float -> 3xHxW float (one batch item).
std::vector<float> to_planar(const FloatImage& image) {
    const std::size_t plane = pixel_count(image.size());
    std::vector<float> out(plane * 3);
    for (std::size_t i = 0; i < plane; ++i) {
        for (std::size_t c = 0; c < 3; ++c) out[c * plane + i] = image.values[i * 3 + c];
    }
    return out;
}

// float in [0, 1] -> uint8 as np.clip(np.round(x * 255.0), 0, 255) on float32 data.
std::vector<std::uint8_t> to_uint8(const FloatImage& image) {
    std::vector<std::uint8_t> out(image.values.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        const float scaled = std::nearbyint(image.values[i] * 255.0f);  // float32 product, half to even
        out[i] = static_cast<std::uint8_t>(std::clamp(scaled, 0.0f, 255.0f));
    }
    return out;
}

// Reverse each run of `width` elements with `stride` between neighbours, i.e. x[..., ::-1] on W.
template <typename T>
std::vector<T> mirror_width(const std::vector<T>& item, int height, int width, int stride, int planes) {
    std::vector<T> out(item.size());
    const std::size_t step = static_cast<std::size_t>(stride);
    const std::size_t row = static_cast<std::size_t>(width) * step;
    const std::size_t rows = static_cast<std::size_t>(height) * static_cast<std::size_t>(planes);
    for (std::size_t r = 0; r < rows; ++r) {
        for (int x = 0; x < width; ++x) {
            const std::size_t src = r * row + static_cast<std::size_t>(x) * step;
            const std::size_t dst = r * row + static_cast<std::size_t>(width - 1 - x) * step;
            std::copy_n(&item[src], step, &out[dst]);
        }
    }
    return out;
}

// Append the mirrored copy of the single batch item in `batch`.
template <typename T>
void append_mirror(std::vector<T>& batch, int height, int width, int stride, int planes) {
    const std::vector<T> mirrored = mirror_width(batch, height, width, stride, planes);
    batch.insert(batch.end(), mirrored.begin(), mirrored.end());
}

void check_placement(const Placement& p) {
    const Box& c = p.content;
    const bool ok = p.model.height > 0 && p.model.width > 0 && p.original.height > 0 && p.original.width > 0 &&
                    p.padding.height >= 0 && p.padding.width >= 0 && c.top >= 0 && c.left >= 0 && c.height > 0 &&
                    c.width > 0 && c.top + c.height <= p.model.height && c.left + c.width <= p.model.width;
    if (!ok) {
        throw Error("invalid placement: model " + size_text(p.model) + ", original " + size_text(p.original) +
                    ", padding " + size_text(p.padding) + ", content box (" + std::to_string(c.top) + ", " +
                    std::to_string(c.left) + ", " + size_text({c.height, c.width}) +
                    "); pass the Placement that prepare() returned.");
    }
}

}  // namespace

InputFormat parse_input_format(const std::string& name) {
    if (name == "float-nchw") return InputFormat::FloatNchw;
    if (name == "uint8-nhwc") return InputFormat::Uint8Nhwc;
    throw Error("unknown input format '" + name + "'; choose one of: float-nchw, uint8-nhwc.");
}

const char* to_string(InputFormat format) {
    return format == InputFormat::FloatNchw ? "float-nchw" : "uint8-nhwc";
}

Fit parse_fit(const std::string& name) {
    if (name == "stretch") return Fit::Stretch;
    if (name == "letterbox") return Fit::Letterbox;
    throw Error("unknown fit '" + name + "'; choose one of: stretch, letterbox.");
}

const void* Prepared::data() const {
    return input.format == InputFormat::FloatNchw ? static_cast<const void*>(nchw.data())
                                                  : static_cast<const void*>(nhwc.data());
}

std::size_t Prepared::size_bytes() const {
    return input.format == InputFormat::FloatNchw ? nchw.size() * sizeof(float) : nhwc.size();
}

Size reflect_padding(Size size, double pad_factor) {
    // int(math.sqrt(h / 2) * pad_factor): truncation toward zero, in double precision.
    return {static_cast<int>(std::sqrt(size.height / 2.0) * pad_factor),
            static_cast<int>(std::sqrt(size.width / 2.0) * pad_factor)};
}

Size minimal_size(Size size, Size target, int multiple_of) {
    if (size.height < 1 || size.width < 1 || target.height < 1 || target.width < 1 || multiple_of < 1) {
        throw Error("minimal_size of " + size_text(size) + " to " + size_text(target) + ": sizes must be positive.");
    }
    // The same float64 operations in the same order as preprocess.minimal_size (no contraction: -ffp-contract=off).
    double scale_h = static_cast<double>(target.height) / size.height;
    double scale_w = static_cast<double>(target.width) / size.width;
    if (std::abs(1.0 - scale_w) < std::abs(1.0 - scale_h)) {
        scale_h = scale_w;
    } else {
        scale_w = scale_h;
    }
    // Python's round() of a float: half to even, as std::nearbyint in the default rounding mode.
    const double rows = std::nearbyint(scale_h * size.height / multiple_of);
    const double cols = std::nearbyint(scale_w * size.width / multiple_of);
    return {static_cast<int>(rows) * multiple_of, static_cast<int>(cols) * multiple_of};
}

Size official_model_size(Size image, Size net, double pad_factor) {
    const Size pad = reflect_padding(image, pad_factor);
    return minimal_size({image.height + 2 * pad.height, image.width + 2 * pad.width}, net);
}

FloatImage to_float_rgb(const RgbImage& image) {
    check_rgb(image);
    FloatImage out = make_float_image({image.height, image.width}, 3);
    for (std::size_t i = 0; i < image.pixels.size(); ++i) {
        out.values[i] = static_cast<float>(image.pixels[i]) / 255.0f;
    }
    return out;
}

FloatImage reflect_pad(const FloatImage& image, Size padding) {
    if (padding.height >= image.height || padding.width >= image.width) {
        throw Error("image of " + size_text(image.size()) + " pixels is too small for reflection padding of " +
                    size_text(padding) + "; turn input padding off (pad_input = false, --no-pad), "
                    "or use a larger image.");
    }
    return pad_image(image, {padding.height, padding.height, padding.width, padding.width}, PadMode::Reflect);
}

Prepared prepare(const RgbImage& image, const ModelInput& input, const PrepareOptions& options) {
    check_model_input(input);
    FloatImage rgb = to_float_rgb(image);
    Prepared prepared;
    prepared.input = input;
    prepared.placement.model = {input.height, input.width};
    prepared.placement.original = rgb.size();
    if (options.pad_input) {
        prepared.placement.padding = reflect_padding(rgb.size(), options.pad_factor);
        rgb = reflect_pad(rgb, prepared.placement.padding);
    }
    FloatImage fitted;
    if (options.fit == Fit::Stretch) {
        fitted = resize_bilinear(rgb, prepared.placement.model);
        prepared.placement.content = {0, 0, input.height, input.width};
    } else {
        fitted = letterbox(rgb, prepared.placement.model, prepared.placement.content);
    }
    if (input.format == InputFormat::FloatNchw) {
        prepared.nchw = to_planar(fitted);
        if (options.flip_batch) append_mirror(prepared.nchw, input.height, input.width, 1, 3);
    } else {
        prepared.nhwc = to_uint8(fitted);
        if (options.flip_batch) append_mirror(prepared.nhwc, input.height, input.width, 3, 1);
    }
    prepared.batch = options.flip_batch ? 2 : 1;
    return prepared;
}

std::vector<float> flip_average(const float* pair, Size model) {
    const std::size_t plane = pixel_count(model);
    const float* first = pair;
    const float* mirrored = pair + plane;
    std::vector<float> out(plane);
    for (int y = 0; y < model.height; ++y) {
        const std::size_t row = static_cast<std::size_t>(y) * static_cast<std::size_t>(model.width);
        for (int x = 0; x < model.width; ++x) {
            const std::size_t back = row + static_cast<std::size_t>(model.width - 1 - x);
            out[row + static_cast<std::size_t>(x)] = (first[row + static_cast<std::size_t>(x)] + mirrored[back]) / 2.0f;
        }
    }
    return out;
}

std::vector<float> restore(const float* depth, const Placement& placement, Interpolation method) {
    check_placement(placement);
    const Box& box = placement.content;
    FloatImage content = make_float_image({box.height, box.width}, 1);
    const std::size_t model_width = static_cast<std::size_t>(placement.model.width);
    const std::size_t box_width = static_cast<std::size_t>(box.width);
    for (int y = 0; y < box.height; ++y) {
        const float* row = depth + static_cast<std::size_t>(box.top + y) * model_width + box.left;
        std::copy_n(row, box_width, &content.values[static_cast<std::size_t>(y) * box_width]);
    }
    const Size padded{placement.original.height + 2 * placement.padding.height,
                      placement.original.width + 2 * placement.padding.width};
    const Box window{placement.padding.height, placement.padding.width, placement.original.height,
                     placement.original.width};
    return resize_window(content, padded, window, method).values;
}

}  // namespace zoe
