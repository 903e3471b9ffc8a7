// A minimal 16-bit grayscale PNG encoder: the zlib stream uses stored (uncompressed) deflate blocks,
// so the file is about 2 bytes per pixel and needs no compression library.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "zoe/image_io.hpp"

namespace zoe {
namespace {

constexpr std::size_t kMaxStoredBlock = 65535;  // LEN of a stored deflate block is 16 bits
constexpr std::size_t kMaxIdatChunk = 1 << 20;  // split long zlib streams over several IDAT chunks
constexpr std::uint32_t kAdlerModulus = 65521;
constexpr std::size_t kAdlerBlock = 5552;       // most bytes before the sums could overflow 32 bits

const std::array<std::uint32_t, 256>& crc_table() {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    return table;
}

void put_u32_be(std::vector<std::uint8_t>& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

void put_u16_le(std::vector<std::uint8_t>& out, std::uint32_t value) {
    out.push_back(static_cast<std::uint8_t>(value & 0xFFu));
    out.push_back(static_cast<std::uint8_t>((value >> 8) & 0xFFu));
}

// length, type, data, CRC-32 over type + data
void put_chunk(std::vector<std::uint8_t>& out, const char type[4], const std::uint8_t* data, std::size_t size) {
    put_u32_be(out, static_cast<std::uint32_t>(size));
    const std::size_t type_at = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data, data + size);
    put_u32_be(out, crc32(&out[type_at], size + 4));
}

// Scanlines of a 16-bit gray image: filter byte 0 (none) then big-endian samples.
std::vector<std::uint8_t> scanlines(const std::uint16_t* pixels, Size size) {
    const std::size_t width = static_cast<std::size_t>(size.width);
    std::vector<std::uint8_t> raw;
    raw.reserve(static_cast<std::size_t>(size.height) * (1 + 2 * width));
    for (int y = 0; y < size.height; ++y) {
        raw.push_back(0);
        const std::uint16_t* row = pixels + static_cast<std::size_t>(y) * width;
        for (std::size_t x = 0; x < width; ++x) {
            raw.push_back(static_cast<std::uint8_t>(row[x] >> 8));
            raw.push_back(static_cast<std::uint8_t>(row[x] & 0xFFu));
        }
    }
    return raw;
}

// zlib stream: header (deflate, 32K window, no dictionary), stored blocks, Adler-32 of the data.
std::vector<std::uint8_t> zlib_stored(const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> out = {0x78, 0x01};  // (0x78 * 256 + 0x01) % 31 == 0
    std::size_t pos = 0;
    do {
        const std::size_t len = std::min(kMaxStoredBlock, data.size() - pos);
        const bool final_block = pos + len == data.size();
        out.push_back(final_block ? 0x01 : 0x00);  // BFINAL bit, BTYPE 00 (stored), then byte-aligned
        put_u16_le(out, static_cast<std::uint32_t>(len));
        put_u16_le(out, static_cast<std::uint32_t>(~len & 0xFFFFu));
        out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(pos),
                   data.begin() + static_cast<std::ptrdiff_t>(pos + len));
        pos += len;
    } while (pos < data.size());
    put_u32_be(out, adler32(data.data(), data.size()));
    return out;
}

void check_size(Size size) {
    if (size.height < 1 || size.width < 1 || size.width > (1 << 24) || size.height > (1 << 24)) {
        throw Error("cannot write a PNG of " + std::to_string(size.height) + "x" + std::to_string(size.width) +
                    " pixels; both sides must be 1 to 16777216.");
    }
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    const std::string temporary = path + ".tmp";
    std::FILE* file = std::fopen(temporary.c_str(), "wb");
    if (!file) throw Error("cannot write " + path + ": " + std::strerror(errno) + "; check the folder exists.");
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    const bool closed = std::fclose(file) == 0;
    if (!written || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
        std::remove(temporary.c_str());
        throw Error("cannot write " + path + ": " + std::strerror(errno) + ".");
    }
}

}  // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t previous) {
    const std::array<std::uint32_t, 256>& table = crc_table();
    std::uint32_t c = previous ^ 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::uint32_t adler32(const std::uint8_t* data, std::size_t size, std::uint32_t previous) {
    std::uint32_t a = previous & 0xFFFFu;
    std::uint32_t b = previous >> 16;
    while (size > 0) {
        const std::size_t block = std::min(size, kAdlerBlock);
        for (std::size_t i = 0; i < block; ++i) {
            a += data[i];
            b += a;
        }
        a %= kAdlerModulus;
        b %= kAdlerModulus;
        data += block;
        size -= block;
    }
    return (b << 16) | a;
}

std::vector<std::uint16_t> depth_to_units(const float* depth_m, std::size_t count, double scale) {
    if (!(scale > 0) || !std::isfinite(scale)) {
        throw Error("depth scale must be positive and finite, got " + std::to_string(scale) + ".");
    }
    std::vector<std::uint16_t> units(count, 0);
    for (std::size_t i = 0; i < count; ++i) {
        const double depth = static_cast<double>(depth_m[i]);
        if (!std::isfinite(depth) || !(depth > 0)) continue;
        const double rounded = std::nearbyint(depth * scale);  // half to even, as np.round
        units[i] = static_cast<std::uint16_t>(std::min(rounded, 65535.0));
    }
    return units;
}

std::vector<std::uint8_t> encode_png_gray16(const std::uint16_t* pixels, Size size) {
    check_size(size);
    std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<std::uint8_t> header;
    put_u32_be(header, static_cast<std::uint32_t>(size.width));
    put_u32_be(header, static_cast<std::uint32_t>(size.height));
    header.insert(header.end(), {16, 0, 0, 0, 0});  // bit depth 16, gray, deflate, no filter, no interlace
    put_chunk(out, "IHDR", header.data(), header.size());
    const std::vector<std::uint8_t> stream = zlib_stored(scanlines(pixels, size));
    for (std::size_t pos = 0; pos < stream.size(); pos += kMaxIdatChunk) {
        put_chunk(out, "IDAT", stream.data() + pos, std::min(kMaxIdatChunk, stream.size() - pos));
    }
    put_chunk(out, "IEND", nullptr, 0);
    return out;
}

void write_png_gray16(const std::string& path, const std::uint16_t* pixels, Size size) {
    write_file(path, encode_png_gray16(pixels, size));
}

void write_depth_png16(const std::string& path, const float* depth_m, Size size, double scale) {
    check_size(size);
    const std::size_t count = static_cast<std::size_t>(size.height) * static_cast<std::size_t>(size.width);
    write_png_gray16(path, depth_to_units(depth_m, count, scale).data(), size);
}

}  // namespace zoe
