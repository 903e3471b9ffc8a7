// zoe_depth_trt: run a ZoeDepth TensorRT engine (built by `zoe-export trt`) on one image, write the
// depth as a 16-bit PNG (millimetres by default) and report the latency.
//
//   image -> zoe::prepare (reflect pad, resize, [x, mirror(x)]) -> H2D -> enqueueV3 -> D2H
//         -> zoe::flip_average -> zoe::restore (bicubic, crop) -> 16-bit PNG
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
    "  --fit MODE       stretch (default) or letterbox\n"
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
    zoe::Fit fit = zoe::Fit::Stretch;
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
        else if (arg == "--fit") options.fit = zoe::parse_fit(option_value(argc, argv, i));
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

int run(const Options& options) {
    using Severity = nvinfer1::ILogger::Severity;
    zoe_trt::Logger logger(options.verbose ? Severity::kINFO : Severity::kWARNING);
#if defined(NV_TENSORRT_MAJOR)
    std::printf("TensorRT headers %d.%d.%d\n", NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH);
#endif
    print_device();
    zoe_trt::DepthEngine engine(options.engine, logger);
    const zoe_trt::InputSpec& spec = engine.input();
    std::printf("engine %s\n%s", options.engine.c_str(), engine.describe().c_str());
    std::printf("input '%s': %s, %dx%d, batch %d..%d\n", spec.name.c_str(), zoe::to_string(spec.model.format),
                spec.model.height, spec.model.width, spec.min_batch, spec.max_batch);

    const BatchPlan plan = plan_batch(spec, options.flip);
    engine.set_batch(plan.batch);

    const auto host_start = std::chrono::steady_clock::now();
    const zoe::RgbImage image = zoe::read_image(options.image);
    zoe::PrepareOptions prepare_options;
    prepare_options.fit = options.fit;
    prepare_options.pad_input = options.pad;
    prepare_options.flip_batch = plan.flip;
    const zoe::Prepared prepared = zoe::prepare(image, spec.model, prepare_options);
    const std::vector<std::uint8_t> input = batch_bytes(prepared, plan.batch);
    const double prepare_ms = elapsed_ms(host_start);
    std::printf("image %s: %dx%d, padding %dx%d, batch %d%s\n", options.image.c_str(), image.height, image.width,
                prepared.placement.padding.height, prepared.placement.padding.width, plan.batch,
                plan.flip ? " (image + mirror)" : "");

    const Latency latency = measure(engine, input, options);
    run_once(engine, input, nullptr);  // the outputs read below come from this pass

    const auto post_start = std::chrono::steady_clock::now();
    const std::vector<float> depth = zoe::restore(model_depth(engine, prepared.placement, plan.flip).data(),
                                                  prepared.placement);
    zoe::write_depth_png16(options.output, depth.data(), prepared.placement.original, options.scale);
    const double restore_ms = elapsed_ms(post_start);

    std::printf("wrote %s (%dx%d, uint16, %g units per metre)\n", options.output.c_str(), image.height, image.width,
                options.scale);
    print_depth_summary(depth);
    print_domain_logits(engine);
    std::printf("latency:\n");
    print_latency("GPU: copy in + inference + copy out", latency.total_ms);
    print_latency("GPU: inference (enqueueV3)", latency.infer_ms);
    std::printf("  %-34s %8.3f ms (read + prepare), %.3f ms (flip average + restore + PNG), once\n", "CPU:",
                prepare_ms, restore_ms);
    return 0;
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
