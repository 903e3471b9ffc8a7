// zoe_depth_trt: run a ZoeDepth TensorRT engine (built by `zoe-export trt`) on one image, write the
// depth as a 16-bit PNG (millimetres by default) and report the latency.
//
// What it does around the engine follows the engine's model card (ENGINE.json, written by zoe-export trt):
//   model engine, fixed size:   image -> zoe::prepare (reflect pad, resize, [x, mirror(x)]) -> H2D -> enqueueV3
//                               -> D2H -> zoe::flip_average -> zoe::restore (bicubic, crop) -> 16-bit PNG
//   model engine, dynamic size: the same at the official keep-aspect size of the image (zoe::official_model_size),
//                               set as the input shape
//   frame engine (io=frame):    the RGB frame as it is (uint8 (1, H, W, 3), the input shape set to the frame's)
//                               -> H2D -> enqueueV3 -> D2H -> depth (H, W) -> 16-bit PNG; the official infer() is
//                               inside the engine, so no host pre- or postprocessing at all
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_utils.hpp"
#include "trt_engine.hpp"
#include "zoe/image_io.hpp"
#include "zoe/model_card.hpp"
#include "zoe/preprocess.hpp"

namespace {

const char* const kUsage =
    "usage: zoe_depth_trt ENGINE IMAGE OUTPUT.png [options]\n"
    "  ENGINE   a serialized TensorRT engine (zoe-export trt); it only runs with the TensorRT version and\n"
    "           GPU compute capability recorded in ENGINE.json\n"
    "  IMAGE    binary PPM (P6), or PNG when built with libpng\n"
    "  OUTPUT   16-bit grayscale PNG of round(depth * scale), 0 = no depth\n"
    "options:\n"
    "  --no-flip        one pass, without averaging with the mirrored image\n"
    "  --no-pad         no reflection padding before resizing\n"
    "  --fit MODE       stretch (fixed engines' default), letterbox, or minimal (the official keep-aspect size;\n"
    "                   dynamic-size engines' default). Frame engines do all three inside: only what they do\n"
    "                   is accepted\n"
    "  --net-size HxW   the size the keep-aspect rule aims at (default: the card's height x width, ENGINE.json)\n"
    "  --warmup N       untimed runs before timing (default 5)\n"
    "  --runs N         timed runs (default 20)\n"
    "  --scale S        PNG units per metre (default 1000: millimetres)\n"
    "  --verbose        TensorRT's info messages too\n";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string engine;
    std::string image;
    std::string output;
    bool flip = true;
    bool pad = true;
    std::string fit;  // "" (the engine's default), stretch, letterbox or minimal
    zoe::Size net;    // --net-size; 0x0: the card's
    int warmup = 5;
    int runs = 20;
    double scale = 1000.0;
    bool verbose = false;
};

int parse_count(const char* text, const char* option) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < 0 || value > 100000) {
        throw UsageError(std::string(option) + " takes a whole number from 0 to 100000, got '" + text + "'.");
    }
    return static_cast<int>(value);
}

double parse_scale(const char* text) {
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (*text == '\0' || *end != '\0' || !(value > 0) || !std::isfinite(value)) {
        throw UsageError(std::string("--scale takes a positive number, got '") + text + "'.");
    }
    return value;
}

std::string parse_fit_name(const std::string& name) {
    if (name != "minimal") zoe::parse_fit(name);  // throws for anything but stretch / letterbox
    return name;
}

zoe::Size parse_size(const char* text, const char* option) {
    zoe::Size size;
    char extra = 0;
    if (std::sscanf(text, "%dx%d%c", &size.height, &size.width, &extra) != 2 || size.height < 32 ||
        size.width < 32 || size.height % 32 || size.width % 32) {
        throw UsageError(std::string(option) + " takes HxW, multiples of 32 (e.g. 384x512), got '" + text + "'.");
    }
    return size;
}

std::string size_text(zoe::Size size) { return std::to_string(size.height) + "x" + std::to_string(size.width); }

const char* option_value(int argc, char** argv, int& i) {
    if (i + 1 >= argc) throw UsageError(std::string(argv[i]) + " needs a value.");
    return argv[++i];
}

Options parse_options(int argc, char** argv) {
    Options options;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--no-flip") options.flip = false;
        else if (arg == "--no-pad") options.pad = false;
        else if (arg == "--verbose") options.verbose = true;
        else if (arg == "--fit") options.fit = parse_fit_name(option_value(argc, argv, i));
        else if (arg == "--net-size") options.net = parse_size(option_value(argc, argv, i), "--net-size");
        else if (arg == "--warmup") options.warmup = parse_count(option_value(argc, argv, i), "--warmup");
        else if (arg == "--runs") options.runs = parse_count(option_value(argc, argv, i), "--runs");
        else if (arg == "--scale") options.scale = parse_scale(option_value(argc, argv, i));
        else if (arg == "-h" || arg == "--help") throw UsageError("");
        else if (arg.rfind("--", 0) == 0) throw UsageError("unknown option " + arg + ".");
        else positional.push_back(arg);
    }
    if (positional.size() != 3) throw UsageError("expected ENGINE IMAGE OUTPUT.png.");
    options.engine = positional[0];
    options.image = positional[1];
    options.output = positional[2];
    return options;
}

// The batch actually run: [x] or [x, mirror(x)], topped up with copies of x to a size the engine takes.
struct BatchPlan {
    int batch = 1;
    bool flip = false;
};

BatchPlan plan_batch(const zoe_trt::InputSpec& input, bool want_flip) {
    if (want_flip && input.max_batch >= 2) return {std::max(2, input.min_batch), true};
    if (want_flip) {
        std::printf("note: the engine takes batch %d only, so this is a single pass without flip averaging "
                    "(export with --batch 2 or --dynamic-batch to average with the mirrored image).\n",
                    input.max_batch);
    }
    return {input.min_batch, false};
}

// The engine input for the whole batch: the prepared items, then copies of the first item.
std::vector<std::uint8_t> batch_bytes(const zoe::Prepared& prepared, int batch) {
    const auto* data = static_cast<const std::uint8_t*>(prepared.data());
    std::vector<std::uint8_t> bytes(data, data + prepared.size_bytes());
    const std::size_t item = prepared.size_bytes() / static_cast<std::size_t>(prepared.batch);
    for (int i = prepared.batch; i < batch; ++i) bytes.insert(bytes.end(), data, data + item);
    return bytes;
}

void print_device() {
    int device = 0;
    zoe_trt::check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    cudaDeviceProp properties{};
    zoe_trt::check_cuda(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties");
    std::printf("GPU %d: %s, compute capability %d.%d\n", device, properties.name, properties.major, properties.minor);
}

struct Latency {
    std::vector<float> total_ms;  // upload + inference + download
    std::vector<float> infer_ms;  // enqueueV3 work only
};

// One full pass on the engine's stream; the events bracket the three steps.
void run_once(zoe_trt::DepthEngine& engine, const std::vector<std::uint8_t>& input, zoe_trt::CudaEvent* events) {
    if (events) events[0].record(engine.stream());
    engine.upload(input.data(), input.size());
    if (events) events[1].record(engine.stream());
    engine.infer();
    if (events) events[2].record(engine.stream());
    engine.download();
    if (events) events[3].record(engine.stream());
    engine.synchronize();
}

Latency measure(zoe_trt::DepthEngine& engine, const std::vector<std::uint8_t>& input, const Options& options) {
    for (int i = 0; i < options.warmup; ++i) run_once(engine, input, nullptr);
    zoe_trt::CudaEvent events[4];
    Latency latency;
    for (int i = 0; i < options.runs; ++i) {
        run_once(engine, input, events);
        latency.total_ms.push_back(events[3].milliseconds_since(events[0]));
        latency.infer_ms.push_back(events[2].milliseconds_since(events[1]));
    }
    return latency;
}

void print_latency(const char* what, std::vector<float> ms) {
    if (ms.empty()) return;
    std::sort(ms.begin(), ms.end());
    const std::size_t n = ms.size();
    const double p50 = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2.0;
    const double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(n);
    std::printf("  %-34s p50 %8.3f ms   mean %8.3f ms   min %8.3f ms   (%zu runs)\n", what, p50, mean, ms.front(), n);
}

// Model-size depth of the image: the flip average of items 0 and 1, or item 0.
std::vector<float> model_depth(const zoe_trt::DepthEngine& engine, const zoe::Placement& placement, bool flip) {
    const std::vector<float> all = engine.output_as_float("metric_depth");
    if (flip) return zoe::flip_average(all.data(), placement.model);
    const std::size_t plane = static_cast<std::size_t>(placement.model.height) * placement.model.width;
    return std::vector<float>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(plane));
}

void print_depth_summary(const std::vector<float>& depth) {
    std::vector<float> finite;
    for (float d : depth) {
        if (std::isfinite(d)) finite.push_back(d);
    }
    if (finite.empty()) {
        std::printf("depth: no finite values\n");
        return;
    }
    std::sort(finite.begin(), finite.end());
    std::printf("depth: min %.3f m, median %.3f m, max %.3f m\n", finite.front(), finite[finite.size() / 2],
                finite.back());
}

void print_domain_logits(const zoe_trt::DepthEngine& engine) {
    if (!engine.has_output("domain_logits")) return;
    const std::vector<float> logits = engine.output_as_float("domain_logits");
    std::printf("domain_logits (first image):");
    const std::vector<std::int64_t> shape = engine.output_shape("domain_logits");
    const std::size_t per_item = shape.size() > 1 ? static_cast<std::size_t>(shape[1]) : logits.size();
    for (std::size_t i = 0; i < per_item && i < logits.size(); ++i) std::printf(" %.4f", logits[i]);
    std::printf("\n");
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// "32x32:192x256" -> min, max; false for text that is not a size range.
bool parse_size_range(const std::string& text, zoe::Size& low, zoe::Size& high) {
    char extra = 0;
    return std::sscanf(text.c_str(), "%dx%d:%dx%d%c", &low.height, &low.width, &high.height, &high.width, &extra) == 4;
}

// The model size a dynamic-size model runs `image` at must be one its graph takes (the card's size range).
void check_model_size(const zoe::ModelCard& card, zoe::Size size, zoe::Size image) {
    zoe::Size low, high;
    if (!card.found || !parse_size_range(card.size_range, low, high)) return;  // the profile still checks it
    const bool inside = size.height >= low.height && size.height <= high.height && size.width >= low.width &&
                        size.width <= high.width;
    if (!inside) {
        throw std::runtime_error("a " + size_text(image) + " image's model size " + size_text(size) +
                                 " is outside the graph's range " + card.size_range +
                                 ": export it again with zoe-export onnx --dynamic-size covering it.");
    }
}

// The card beside the engine, checked against what the engine itself says.
zoe::ModelCard engine_card(const Options& options, const zoe_trt::InputSpec& spec) {
    const zoe::ModelCard card = zoe::read_model_card(zoe::manifest_path_for(options.engine));
    if (card.found && card.is_frame() != spec.frame) {
        throw std::runtime_error(zoe::manifest_path_for(options.engine) + " says io=" + card.io + " but the engine's "
                                 "'metric_depth' is " + (spec.frame ? "(B, H, W): a frame engine" : "(B, 1, H, W)") +
                                 "; is it this engine's manifest? Rebuild with zoe-export trt.");
    }
    return card;
}

// Frame engines do the official infer() inside: options that ask for something else are refused.
void check_frame_options(const Options& options, const zoe::ModelCard& card) {
    if (!options.pad) {
        throw UsageError("--no-pad: a frame engine reflect-pads every frame inside, as the official infer() does.");
    }
    if (!options.fit.empty() && !(card.found && options.fit == card.fit)) {
        throw UsageError("--fit " + options.fit + ": a frame engine resizes inside (" +
                         (card.found ? "fit " + card.fit : "as its manifest says") + "); leave --fit out.");
    }
    if (!options.flip && !(card.found && !card.flip)) {
        throw UsageError(std::string("--no-flip: this frame engine ") +
                         (card.found ? "averages each frame with its mirror image inside"
                                     : "decides flip averaging inside (its manifest ENGINE.json says how)") +
                         "; export a frame graph without --flip for single passes.");
    }
}

struct Timing {
    Latency latency;
    double prepare_ms = 0.0;
    double restore_ms = 0.0;
};

void report(const Options& options, const zoe::RgbImage& image, const std::vector<float>& depth,
            const zoe_trt::DepthEngine& engine, const Timing& timing, const char* host_steps) {
    std::printf("wrote %s (%dx%d, uint16, %g units per metre)\n", options.output.c_str(), image.height, image.width,
                options.scale);
    print_depth_summary(depth);
    print_domain_logits(engine);
    std::printf("latency:\n");
    print_latency("GPU: copy in + inference + copy out", timing.latency.total_ms);
    print_latency("GPU: inference (enqueueV3)", timing.latency.infer_ms);
    std::printf("  %-34s %8.3f ms (read + prepare), %.3f ms (%s), once\n", "CPU:", timing.prepare_ms,
                timing.restore_ms, host_steps);
}

// A frame engine: the frame's pixels are the input, its depth (H, W) the output.
int run_frame(const Options& options, zoe_trt::DepthEngine& engine, const zoe::ModelCard& card) {
    check_frame_options(options, card);
    const zoe_trt::InputSpec& spec = engine.input();
    const auto host_start = std::chrono::steady_clock::now();
    const zoe::RgbImage image = zoe::read_image(options.image);
    const zoe::Size frame{image.height, image.width};
    if (card.found && card.frame_size.height > 0 &&
        (card.frame_size.height != frame.height || card.frame_size.width != frame.width)) {
        throw std::runtime_error("frame " + size_text(frame) + ": this frame engine takes " +
                                 size_text(card.frame_size) + " frames only; resize the image, or export a frame "
                                 "graph without --frame-size.");
    }
    const zoe::Size pad = zoe::reflect_padding(frame);
    if (pad.height >= frame.height || pad.width >= frame.width) {
        throw std::runtime_error("frame " + size_text(frame) + " is too small for the reflection padding the engine "
                                 "applies (" + size_text(pad) + " a side): use a larger image.");
    }
    if (card.found && card.dynamic_size()) {
        check_model_size(card, zoe::official_model_size(frame, card.size), frame);
    }
    const int batch = spec.min_batch;
    engine.set_input(batch, frame);  // the frame's own height and width
    std::vector<std::uint8_t> input;
    for (int i = 0; i < batch; ++i) input.insert(input.end(), image.pixels.begin(), image.pixels.end());
    Timing timing;
    timing.prepare_ms = elapsed_ms(host_start);
    std::printf("frame %s: %dx%d, fed as it is (uint8 (%d, %d, %d, 3)); the engine pads, resizes%s and restores\n",
                options.image.c_str(), image.height, image.width, batch, image.height, image.width,
                card.found ? (card.flip ? ", flip-averages" : "") : " (flip: see its manifest)");

    timing.latency = measure(engine, input, options);
    run_once(engine, input, nullptr);  // the outputs read below come from this pass

    const auto post_start = std::chrono::steady_clock::now();
    const std::vector<float> all = engine.output_as_float("metric_depth");
    const std::vector<float> depth(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(image.pixels.size() / 3));
    zoe::write_depth_png16(options.output, depth.data(), frame, options.scale);
    timing.restore_ms = elapsed_ms(post_start);
    report(options, image, depth, engine, timing, "PNG");
    return 0;
}

// A model engine: the official recipe on the host around it, at its size or (dynamic) the image's model size.
int run_model(const Options& options, zoe_trt::DepthEngine& engine, const zoe::ModelCard& card) {
    const zoe_trt::InputSpec& spec = engine.input();
    const std::string fit = !options.fit.empty() ? options.fit : spec.dynamic_size ? "minimal" : "stretch";
    const auto host_start = std::chrono::steady_clock::now();
    const zoe::RgbImage image = zoe::read_image(options.image);
    const zoe::Size original{image.height, image.width};
    zoe::Size net{spec.model.height, spec.model.width};
    if (spec.dynamic_size) {
        net = options.net.height > 0 ? options.net : card.size;
        if (net.height <= 0) {
            throw std::runtime_error("the engine takes several sizes, and there is no " +
                                     zoe::manifest_path_for(options.engine) + " to say the model's own size: "
                                     "pass --net-size HxW (the variant's native size, e.g. 384x512).");
        }
    }
    zoe::Size size = net;
    if (fit == "minimal") {
        size = options.pad ? zoe::official_model_size(original, net) : zoe::minimal_size(original, net);
        if (!spec.dynamic_size && (size.height != net.height || size.width != net.width)) {
            throw std::runtime_error("--fit minimal: this image runs at " + size_text(size) + ", and the engine is "
                                     "fixed at " + size_text(net) + "; use --fit stretch, or an engine of a "
                                     "dynamic-size export (zoe-export onnx --dynamic-size).");
        }
        check_model_size(card, size, original);
    }
    const BatchPlan plan = plan_batch(spec, options.flip);
    engine.set_input(plan.batch, size);  // checked against the engine's profile first

    zoe::PrepareOptions prepare_options;
    prepare_options.fit = fit == "letterbox" ? zoe::Fit::Letterbox : zoe::Fit::Stretch;  // minimal chose the size
    prepare_options.pad_input = options.pad;
    prepare_options.flip_batch = plan.flip;
    const zoe::ModelInput input_size{size.height, size.width, spec.model.format};
    const zoe::Prepared prepared = zoe::prepare(image, input_size, prepare_options);
    const std::vector<std::uint8_t> input = batch_bytes(prepared, plan.batch);
    Timing timing;
    timing.prepare_ms = elapsed_ms(host_start);
    std::printf("image %s: %dx%d, padding %dx%d, model size %s (%s), batch %d%s\n", options.image.c_str(),
                image.height, image.width, prepared.placement.padding.height, prepared.placement.padding.width,
                size_text(size).c_str(), fit.c_str(), plan.batch, plan.flip ? " (image + mirror)" : "");

    timing.latency = measure(engine, input, options);
    run_once(engine, input, nullptr);  // the outputs read below come from this pass

    const auto post_start = std::chrono::steady_clock::now();
    const std::vector<float> depth = zoe::restore(model_depth(engine, prepared.placement, plan.flip).data(),
                                                  prepared.placement);
    zoe::write_depth_png16(options.output, depth.data(), prepared.placement.original, options.scale);
    timing.restore_ms = elapsed_ms(post_start);
    report(options, image, depth, engine, timing, "flip average + restore + PNG");
    return 0;
}

int run(const Options& options) {
    using Severity = nvinfer1::ILogger::Severity;
    zoe_trt::Logger logger(options.verbose ? Severity::kINFO : Severity::kWARNING);
#if defined(NV_TENSORRT_MAJOR)
    std::printf("TensorRT headers %d.%d.%d\n", NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH);
#endif
    print_device();
    zoe_trt::DepthEngine engine(options.engine, logger);
    const zoe_trt::InputSpec& spec = engine.input();
    const zoe::ModelCard card = engine_card(options, spec);
    std::printf("engine %s\n%s", options.engine.c_str(), engine.describe().c_str());
    const std::string sizes = spec.dynamic_size ? size_text(spec.min_size) + " to " + size_text(spec.max_size)
                                                : size_text(spec.min_size);
    std::printf("input '%s': %s, %s, batch %d..%d, %s\n", spec.name.c_str(), zoe::to_string(spec.model.format),
                sizes.c_str(), spec.min_batch, spec.max_batch,
                spec.frame ? "frame engine (io=frame: the official infer() inside)" : "model engine (io=model)");
    if (!card.found) {
        std::printf("note: no %s beside the engine\n", zoe::manifest_path_for(options.engine).c_str());
    }
    return spec.frame ? run_frame(options, engine, card) : run_model(options, engine, card);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse_options(argc, argv));
    } catch (const UsageError& error) {
        if (*error.what()) std::fprintf(stderr, "error: %s\n", error.what());
        std::fprintf(stderr, "%s", kUsage);
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "error: %s\n", error.what());
        return 1;
    }
}
