// Reading RGB images: binary PPM (P6) always, PNG through libpng when ZOE_HAVE_PNG is defined.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "zoe/image_io.hpp"

#ifdef ZOE_HAVE_PNG
#include <png.h>
#endif

namespace zoe {
namespace {

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_for_reading(const std::string& path) {
    File file(std::fopen(path.c_str(), "rb"));
    if (!file) throw Error("cannot open image " + path + ": " + std::strerror(errno) + "; check the path.");
    return file;
}

std::vector<std::uint8_t> read_all(const std::string& path) {
    File file = open_for_reading(path);
    std::vector<std::uint8_t> bytes;
    std::uint8_t chunk[1 << 16];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
    if (std::ferror(file.get())) throw Error("cannot read image " + path + ": read error.");
    return bytes;
}

// Minimal cursor over a PPM header: whitespace-separated decimal fields, '#' comments to line end.
class PpmHeader {
public:
    PpmHeader(const std::vector<std::uint8_t>& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

    int next_number(const char* what) {
        skip_space_and_comments();
        long value = 0;
        std::size_t digits = 0;
        while (pos_ < bytes_.size() && bytes_[pos_] >= '0' && bytes_[pos_] <= '9') {
            value = value * 10 + (bytes_[pos_++] - '0');
            if (value > 1000000) fail(std::string("its ") + what + " is too large");
            ++digits;
        }
        if (digits == 0) fail(std::string("its header has no valid ") + what);
        return static_cast<int>(value);
    }

    // The single whitespace byte that ends the header; returns the offset of the raster.
    std::size_t raster_offset() {
        if (pos_ >= bytes_.size() || !is_space(bytes_[pos_])) fail("its header does not end with whitespace");
        return pos_ + 1;
    }

    [[noreturn]] void fail(const std::string& why) const {
        throw Error(path_ + " is not a valid binary PPM (P6) image: " + why + ".");
    }

private:
    static bool is_space(std::uint8_t c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    }

    void skip_space_and_comments() {
        while (pos_ < bytes_.size()) {
            if (is_space(bytes_[pos_])) {
                ++pos_;
            } else if (bytes_[pos_] == '#') {
                while (pos_ < bytes_.size() && bytes_[pos_] != '\n' && bytes_[pos_] != '\r') ++pos_;
            } else {
                return;
            }
        }
    }

    const std::vector<std::uint8_t>& bytes_;
    const std::string& path_;
    std::size_t pos_ = 2;  // after the "P6" magic
};

bool starts_with(const std::vector<std::uint8_t>& bytes, const std::uint8_t* magic, std::size_t size) {
    return bytes.size() >= size && std::memcmp(bytes.data(), magic, size) == 0;
}

const std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
const std::uint8_t kPpmMagic[2] = {'P', '6'};

RgbImage decode_ppm(const std::vector<std::uint8_t>& bytes, const std::string& path) {
    PpmHeader header(bytes, path);
    if (!starts_with(bytes, kPpmMagic, 2)) header.fail("it does not start with the magic 'P6'");
    const int width = header.next_number("width");
    const int height = header.next_number("height");
    const int maxval = header.next_number("maxval");
    if (width < 1 || height < 1) header.fail("its size is " + std::to_string(width) + "x" + std::to_string(height));
    if (maxval != 255) {
        header.fail("maxval is " + std::to_string(maxval) + " but only 8-bit files (maxval 255) are supported");
    }
    const std::size_t start = header.raster_offset();
    const std::size_t needed = static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3;
    if (bytes.size() - start < needed) {
        header.fail("it is truncated (" + std::to_string(bytes.size() - start) + " of " + std::to_string(needed) +
                    " pixel bytes)");
    }
    RgbImage image;
    image.height = height;
    image.width = width;
    image.pixels.assign(bytes.begin() + static_cast<std::ptrdiff_t>(start),
                        bytes.begin() + static_cast<std::ptrdiff_t>(start + needed));
    return image;
}

#ifdef ZOE_HAVE_PNG

struct PngErrorSink {
    char message[256] = "unknown libpng error";
};

extern "C" void on_png_error(png_structp png, png_const_charp message) {
    auto* sink = static_cast<PngErrorSink*>(png_get_error_ptr(png));
    std::snprintf(sink->message, sizeof sink->message, "%s", message);
    png_longjmp(png, 1);
}

extern "C" void on_png_warning(png_structp, png_const_charp) {}

// libpng read state, destroyed on every path.
struct PngReader {
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~PngReader() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

// What the decoded rows hold: always 3 channels, 8 or 16 bits.
struct PngLayout {
    int color_type = 0;
    int bit_depth = 0;
    png_uint_32 width = 0;
    png_uint_32 height = 0;
};

// Set up transforms to RGB and decode every row into `raw`. No C++ object with a destructor is
// created between setjmp and the libpng calls that may longjmp back, so the jump is safe.
bool decode_png_rows(std::FILE* file, PngReader& reader, PngLayout& layout, std::vector<png_byte>& raw,
                     std::vector<png_bytep>& rows) {
    if (setjmp(png_jmpbuf(reader.png))) return false;
    png_init_io(reader.png, file);
    png_read_info(reader.png, reader.info);
    layout.width = png_get_image_width(reader.png, reader.info);
    layout.height = png_get_image_height(reader.png, reader.info);
    layout.color_type = png_get_color_type(reader.png, reader.info);
    layout.bit_depth = png_get_bit_depth(reader.png, reader.info);
    if (layout.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(reader.png);
    if (layout.color_type == PNG_COLOR_TYPE_GRAY && layout.bit_depth < 8) png_set_expand_gray_1_2_4_to_8(reader.png);
    if (layout.color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(reader.png);
    if (!(layout.color_type & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(reader.png);
    png_set_interlace_handling(reader.png);
    png_read_update_info(reader.png, reader.info);
    const std::size_t row_bytes = png_get_rowbytes(reader.png, reader.info);
    raw.resize(row_bytes * layout.height);
    rows.resize(layout.height);
    for (png_uint_32 y = 0; y < layout.height; ++y) rows[y] = raw.data() + y * row_bytes;
    png_read_image(reader.png, rows.data());
    png_read_end(reader.png, nullptr);
    return true;
}

// 16-bit samples to 8 bits the way Pillow + zoe_export.io.read_image do: 16-bit gray ("I;16") is
// scaled by 255/65535 and rounded; every other 16-bit mode keeps the high byte.
std::uint8_t sample_to_8bit(const png_byte* sample, bool scaled_gray) {
    if (!scaled_gray) return sample[0];
    const unsigned value = (static_cast<unsigned>(sample[0]) << 8) | sample[1];
    return static_cast<std::uint8_t>(std::nearbyint(value * (255.0 / 65535.0)));
}

RgbImage rows_to_rgb(const PngLayout& layout, const std::vector<png_byte>& raw) {
    RgbImage image;
    image.height = static_cast<int>(layout.height);
    image.width = static_cast<int>(layout.width);
    const std::size_t count = static_cast<std::size_t>(layout.width) * layout.height * 3;
    if (layout.bit_depth != 16) {
        if (raw.size() < count) throw Error("unexpected PNG row layout after conversion to RGB.");
        image.pixels.assign(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(count));
        return image;
    }
    if (raw.size() < count * 2) throw Error("unexpected PNG row layout after conversion to RGB.");
    const bool scaled_gray = layout.color_type == PNG_COLOR_TYPE_GRAY;
    image.pixels.resize(count);
    for (std::size_t i = 0; i < count; ++i) image.pixels[i] = sample_to_8bit(&raw[2 * i], scaled_gray);
    return image;
}

#endif  // ZOE_HAVE_PNG

}  // namespace

bool png_input_supported() {
#ifdef ZOE_HAVE_PNG
    return true;
#else
    return false;
#endif
}

RgbImage read_ppm(const std::string& path) { return decode_ppm(read_all(path), path); }

#ifdef ZOE_HAVE_PNG

RgbImage read_png(const std::string& path) {
    File file = open_for_reading(path);
    PngErrorSink sink;
    PngReader reader;
    reader.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, on_png_error, on_png_warning);
    if (reader.png) reader.info = png_create_info_struct(reader.png);
    if (!reader.png || !reader.info) throw Error("cannot read PNG " + path + ": libpng could not allocate its state.");
    PngLayout layout;
    std::vector<png_byte> raw;
    std::vector<png_bytep> rows;
    if (!decode_png_rows(file.get(), reader, layout, raw, rows)) {
        throw Error("cannot read PNG " + path + ": " + sink.message + ".");
    }
    if (layout.width < 1 || layout.height < 1 || layout.width > 1000000 || layout.height > 1000000) {
        throw Error("cannot read PNG " + path + ": unsupported size.");
    }
    return rows_to_rgb(layout, raw);
}

#else

RgbImage read_png(const std::string& path) {
    throw Error(path + " is a PNG, but this build has no PNG support (CMake did not find libpng); "
                "install libpng's development files and rebuild, or convert the image to binary PPM (P6).");
}

#endif

RgbImage read_image(const std::string& path) {
    std::uint8_t head[8] = {};
    {
        File file = open_for_reading(path);
        const std::size_t got = std::fread(head, 1, sizeof head, file.get());
        const std::vector<std::uint8_t> bytes(head, head + got);
        if (starts_with(bytes, kPngSignature, 8)) return read_png(path);
        if (starts_with(bytes, kPpmMagic, 2)) return read_ppm(path);
    }
    throw Error(path + " is neither a binary PPM (P6) nor a PNG image; convert it, e.g. with Pillow: "
                "Image.open(path).convert('RGB').save('image.ppm').");
}

}  // namespace zoe
