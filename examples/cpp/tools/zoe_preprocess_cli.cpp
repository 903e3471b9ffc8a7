// zoe_preprocess_cli: the zoe_preprocess library on the command line, with raw little-endian
// files in and out, so other languages (the Python tests) can check it step by step.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "zoe/image_io.hpp"
#include "zoe/model_card.hpp"
#include "zoe/preprocess.hpp"

namespace {

const char* const kUsage =
    "usage:\n"
    "  zoe_preprocess_cli info\n"
    "  zoe_preprocess_cli decode IMAGE OUT.rgb\n"
    "      IMAGE (PPM or PNG) as raw uint8 HxWx3; prints size=HxW\n"
    "  zoe_preprocess_cli prepare IMAGE H W FORMAT OUT.bin [--no-pad] [--pad-factor F]\n"
    "                             [--fit stretch|letterbox] [--flip]\n"
    "      FORMAT float-nchw: float32 (B,3,H,W); uint8-nhwc: uint8 (B,H,W,3); --flip: B=2 [x, mirror(x)]\n"
    "      prints original=HxW padding=HxW content=TOP,LEFT,HEIGHT,WIDTH batch=B\n"
    "  zoe_preprocess_cli restore DEPTH.bin H W ORIG_H ORIG_W PAD_H PAD_W OUT.bin\n"
    "                             [--content TOP,LEFT,HEIGHT,WIDTH] [--interpolation bicubic|bilinear]\n"
    "      float32 (H,W) model-size depth -> float32 (ORIG_H,ORIG_W)\n"
    "  zoe_preprocess_cli flip-average PAIR.bin H W OUT.bin\n"
    "      float32 (2,1,H,W) depth of [x, mirror(x)] -> float32 (H,W)\n"
    "  zoe_preprocess_cli png16 DEPTH.bin H W OUT.png [--scale S]\n"
    "      float32 (H,W) depth in metres -> 16-bit PNG of round(depth * S), S = 1000 (mm) by default\n"
    "  zoe_preprocess_cli model-size NET_H NET_W HxW [HxW ...] [--no-pad]\n"
    "      the model size a dynamic-size engine of native size NET runs each image at (official_model_size;\n"
    "      --no-pad: minimal_size of the size as given); prints one HxW=MODEL_HxMODEL_W per image\n"
    "  zoe_preprocess_cli card MANIFEST.json\n"
    "      the model card the app reads from a manifest; prints found= io= size= range= fit= flip= frame=\n";

struct UsageError : zoe::Error {
    using zoe::Error::Error;
};

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;  // --name value
    std::set<std::string> switches;              // --name
};

// Split argv[first..] into positionals, the allowed valued options and the allowed switches.
Args parse_args(int argc, char** argv, int first, const std::set<std::string>& valued,
                const std::set<std::string>& switches) {
    Args args;
    for (int i = first; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0) {
            args.positional.push_back(arg);
        } else if (switches.count(arg)) {
            args.switches.insert(arg);
        } else if (valued.count(arg)) {
            if (i + 1 >= argc) throw UsageError("option " + arg + " needs a value.");
            args.options[arg] = argv[++i];
        } else {
            throw UsageError("unknown option " + arg + ".");
        }
    }
    return args;
}

void expect_positionals(const Args& args, std::size_t count, const char* command) {
    if (args.positional.size() != count) {
        throw UsageError(std::string(command) + " takes " + std::to_string(count) + " arguments, got " +
                         std::to_string(args.positional.size()) + ".");
    }
}

int to_int(const std::string& text, const char* what) {
    char* end = nullptr;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < 0 || value > 1000000) {
        throw UsageError(std::string(what) + " must be a whole number from 0 to 1000000, got '" + text + "'.");
    }
    return static_cast<int>(value);
}

double to_double(const std::string& text, const char* what) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') throw UsageError(std::string(what) + " must be a number, got '" + text + "'.");
    return value;
}

zoe::Box to_box(const std::string& text) {
    zoe::Box box;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%d,%d,%d,%d%c", &box.top, &box.left, &box.height, &box.width, &extra) != 4) {
        throw UsageError("--content takes TOP,LEFT,HEIGHT,WIDTH, got '" + text + "'.");
    }
    return box;
}

std::vector<char> read_file(const std::string& path, std::size_t expected_bytes) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw zoe::Error("cannot open " + path + ": " + std::strerror(errno) + ".");
    const std::size_t size = static_cast<std::size_t>(in.tellg());
    if (size != expected_bytes) {
        throw zoe::Error(path + " holds " + std::to_string(size) + " bytes, expected " +
                         std::to_string(expected_bytes) + " for the shape given.");
    }
    std::vector<char> bytes(size);
    in.seekg(0);
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (!in) throw zoe::Error("cannot read " + path + ".");
    return bytes;
}

std::vector<float> read_floats(const std::string& path, std::size_t count) {
    const std::vector<char> bytes = read_file(path, count * sizeof(float));
    std::vector<float> values(count);
    std::memcpy(values.data(), bytes.data(), bytes.size());  // little-endian hosts only, like the tests
    return values;
}

void write_bytes(const std::string& path, const void* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) throw zoe::Error("cannot write " + path + ".");
}

std::size_t area(int height, int width) { return static_cast<std::size_t>(height) * static_cast<std::size_t>(width); }

int run_info() {
    std::printf("png-input=%s\n", zoe::png_input_supported() ? "yes" : "no");
    return 0;
}

int run_decode(const Args& args) {
    expect_positionals(args, 2, "decode");
    const zoe::RgbImage image = zoe::read_image(args.positional[0]);
    write_bytes(args.positional[1], image.pixels.data(), image.pixels.size());
    std::printf("size=%dx%d\n", image.height, image.width);
    return 0;
}

int run_prepare(const Args& args) {
    expect_positionals(args, 5, "prepare");
    const zoe::RgbImage image = zoe::read_image(args.positional[0]);
    zoe::ModelInput input;
    input.height = to_int(args.positional[1], "H");
    input.width = to_int(args.positional[2], "W");
    input.format = zoe::parse_input_format(args.positional[3]);
    zoe::PrepareOptions options;
    options.pad_input = !args.switches.count("--no-pad");
    options.flip_batch = args.switches.count("--flip") > 0;
    if (args.options.count("--fit")) options.fit = zoe::parse_fit(args.options.at("--fit"));
    if (args.options.count("--pad-factor")) {
        options.pad_factor = to_double(args.options.at("--pad-factor"), "--pad-factor");
    }
    const zoe::Prepared prepared = zoe::prepare(image, input, options);
    write_bytes(args.positional[4], prepared.data(), prepared.size_bytes());
    const zoe::Placement& p = prepared.placement;
    std::printf("original=%dx%d padding=%dx%d content=%d,%d,%d,%d batch=%d\n", p.original.height, p.original.width,
                p.padding.height, p.padding.width, p.content.top, p.content.left, p.content.height, p.content.width,
                prepared.batch);
    return 0;
}

int run_restore(const Args& args) {
    expect_positionals(args, 8, "restore");
    zoe::Placement placement;
    placement.model = {to_int(args.positional[1], "H"), to_int(args.positional[2], "W")};
    placement.original = {to_int(args.positional[3], "ORIG_H"), to_int(args.positional[4], "ORIG_W")};
    placement.padding = {to_int(args.positional[5], "PAD_H"), to_int(args.positional[6], "PAD_W")};
    placement.content = {0, 0, placement.model.height, placement.model.width};
    if (args.options.count("--content")) placement.content = to_box(args.options.at("--content"));
    zoe::Interpolation method = zoe::Interpolation::Bicubic;
    if (args.options.count("--interpolation")) method = zoe::parse_interpolation(args.options.at("--interpolation"));
    const std::vector<float> depth =
        read_floats(args.positional[0], area(placement.model.height, placement.model.width));
    const std::vector<float> restored = zoe::restore(depth.data(), placement, method);
    write_bytes(args.positional[7], restored.data(), restored.size() * sizeof(float));
    return 0;
}

int run_flip_average(const Args& args) {
    expect_positionals(args, 4, "flip-average");
    const zoe::Size model{to_int(args.positional[1], "H"), to_int(args.positional[2], "W")};
    const std::vector<float> pair = read_floats(args.positional[0], 2 * area(model.height, model.width));
    const std::vector<float> depth = zoe::flip_average(pair.data(), model);
    write_bytes(args.positional[3], depth.data(), depth.size() * sizeof(float));
    return 0;
}

int run_png16(const Args& args) {
    expect_positionals(args, 4, "png16");
    const zoe::Size size{to_int(args.positional[1], "H"), to_int(args.positional[2], "W")};
    const double scale = args.options.count("--scale") ? to_double(args.options.at("--scale"), "--scale") : 1000.0;
    const std::vector<float> depth = read_floats(args.positional[0], area(size.height, size.width));
    zoe::write_depth_png16(args.positional[3], depth.data(), size, scale);
    return 0;
}

zoe::Size to_size(const std::string& text) {
    zoe::Size size;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%dx%d%c", &size.height, &size.width, &extra) != 2 || size.height < 1 ||
        size.width < 1) {
        throw UsageError("expected a size HxW of positive whole numbers, got '" + text + "'.");
    }
    return size;
}

std::string size_text(zoe::Size size) { return std::to_string(size.height) + "x" + std::to_string(size.width); }

int run_model_size(const Args& args) {
    if (args.positional.size() < 3) throw UsageError("model-size takes NET_H NET_W and at least one HxW.");
    const zoe::Size net{to_int(args.positional[0], "NET_H"), to_int(args.positional[1], "NET_W")};
    const bool pad = !args.switches.count("--no-pad");
    for (std::size_t i = 2; i < args.positional.size(); ++i) {
        const zoe::Size image = to_size(args.positional[i]);
        const zoe::Size model = pad ? zoe::official_model_size(image, net) : zoe::minimal_size(image, net);
        std::printf("%s=%s\n", size_text(image).c_str(), size_text(model).c_str());
    }
    return 0;
}

int run_card(const Args& args) {
    expect_positionals(args, 1, "card");
    const zoe::ModelCard card = zoe::read_model_card(args.positional[0]);
    std::printf("found=%d io=%s size=%s range=%s fit=%s flip=%d frame=%s input=%s\n", card.found ? 1 : 0,
                card.io.c_str(), size_text(card.size).c_str(), card.size_range.empty() ? "-" : card.size_range.c_str(),
                card.fit.c_str(), card.flip ? 1 : 0, size_text(card.frame_size).c_str(), card.input_name.c_str());
    return 0;
}

int dispatch(int argc, char** argv) {
    if (argc < 2) throw UsageError("no command given.");
    const std::string command = argv[1];
    if (command == "info") return run_info();
    if (command == "decode") return run_decode(parse_args(argc, argv, 2, {}, {}));
    if (command == "prepare") {
        return run_prepare(parse_args(argc, argv, 2, {"--fit", "--pad-factor"}, {"--no-pad", "--flip"}));
    }
    if (command == "restore") return run_restore(parse_args(argc, argv, 2, {"--content", "--interpolation"}, {}));
    if (command == "flip-average") return run_flip_average(parse_args(argc, argv, 2, {}, {}));
    if (command == "png16") return run_png16(parse_args(argc, argv, 2, {"--scale"}, {}));
    if (command == "model-size") return run_model_size(parse_args(argc, argv, 2, {}, {"--no-pad"}));
    if (command == "card") return run_card(parse_args(argc, argv, 2, {}, {}));
    throw UsageError("unknown command '" + command + "'.");
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return dispatch(argc, argv);
    } catch (const UsageError& error) {
        std::fprintf(stderr, "error: %s\n%s", error.what(), kUsage);
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "error: %s\n", error.what());
        return 1;
    }
}
