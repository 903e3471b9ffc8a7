// Reading RGB images (binary PPM always, PNG when built with libpng) and writing 16-bit depth PNGs
// with a self-contained encoder (stored deflate blocks; no zlib needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "zoe/image.hpp"

namespace zoe {

// True when this build can read PNG files (CMake found libpng).
bool png_input_supported();

// Binary PPM (P6) with maxval 255.
RgbImage read_ppm(const std::string& path);

// Any PNG, converted to 8-bit RGB like Pillow's Image.convert("RGB") (alpha dropped, gray
// replicated; 16-bit gray scaled by 255/65535 as zoe_export.io.images.read_image does). Needs libpng.
RgbImage read_png(const std::string& path);

// PPM or PNG, chosen by the file's first bytes rather than its extension.
RgbImage read_image(const std::string& path);

// Standard checksums, as PNG (CRC-32) and zlib (Adler-32) define them.
std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t previous = 0);
std::uint32_t adler32(const std::uint8_t* data, std::size_t size, std::uint32_t previous = 1);

// Depth in metres -> uint16 units: round(depth * scale) (half to even), clamped to 0..65535;
// 0 where depth is not finite or not positive. Same as zoe_export.io.images.write_depth_png16.
std::vector<std::uint16_t> depth_to_units(const float* depth_m, std::size_t count, double scale = 1000.0);

// A complete 16-bit grayscale PNG file in memory.
std::vector<std::uint8_t> encode_png_gray16(const std::uint16_t* pixels, Size size);

// Write a 16-bit grayscale PNG (through a temporary file renamed into place).
void write_png_gray16(const std::string& path, const std::uint16_t* pixels, Size size);

// Write depth in metres as a 16-bit PNG of millimetres (by default).
void write_depth_png16(const std::string& path, const float* depth_m, Size size, double scale = 1000.0);

}  // namespace zoe
