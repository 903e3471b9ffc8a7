// A small JSON reader (objects, arrays, strings with escapes, numbers, true/false/null), enough for the
// manifests zoe-export writes, and the model card read out of one.
#include "zoe/model_card.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace zoe {
namespace {

struct Json {
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind = Kind::Null;
    bool boolean = false;
    double number = 0.0;
    std::string text;
    std::vector<Json> items;                           // Array
    std::vector<std::pair<std::string, Json>> fields;  // Object, in file order

    const Json* get(const std::string& key) const {
        if (kind != Kind::Object) return nullptr;
        for (const auto& field : fields) {
            if (field.first == key) return &field.second;
        }
        return nullptr;
    }
};

class Parser {
public:
    Parser(const std::string& text, std::string where) : text_(text), where_(std::move(where)) {}

    Json parse_document() {
        Json value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) fail("unexpected text after the JSON value");
        return value;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(where_ + " is not a readable zoe-export manifest: " + what + " at byte " + std::to_string(pos_) +
                    ". Write it again with zoe-export trt (or zoe-export onnx).");
    }

    void skip_space() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }

    char peek() {
        skip_space();
        if (pos_ >= text_.size()) fail("unexpected end of file");
        return text_[pos_];
    }

    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }

    bool consume_word(const char* word) {
        const std::size_t n = std::strlen(word);
        if (text_.compare(pos_, n, word) != 0) return false;
        pos_ += n;
        return true;
    }

    Json parse_value(int depth) {
        if (depth > 64) fail("nesting too deep");
        const char c = peek();
        Json value;
        if (c == '{') {
            value.kind = Json::Kind::Object;
            ++pos_;
            if (peek() == '}') {
                ++pos_;
                return value;
            }
            while (true) {
                if (peek() != '"') fail("expected a key");
                std::string key = parse_string();
                expect(':');
                value.fields.emplace_back(std::move(key), parse_value(depth + 1));
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                expect('}');
                return value;
            }
        }
        if (c == '[') {
            value.kind = Json::Kind::Array;
            ++pos_;
            if (peek() == ']') {
                ++pos_;
                return value;
            }
            while (true) {
                value.items.push_back(parse_value(depth + 1));
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                expect(']');
                return value;
            }
        }
        if (c == '"') {
            value.kind = Json::Kind::String;
            value.text = parse_string();
            return value;
        }
        if (consume_word("true")) {
            value.kind = Json::Kind::Bool;
            value.boolean = true;
            return value;
        }
        if (consume_word("false")) {
            value.kind = Json::Kind::Bool;
            return value;
        }
        if (consume_word("null")) return value;
        // Python's json writes non-finite numbers so (a measured REL may be one)
        if (consume_word("NaN") || consume_word("Infinity") || consume_word("-Infinity")) {
            value.kind = Json::Kind::Number;
            return value;
        }
        const char* start = text_.c_str() + pos_;
        char* end = nullptr;
        errno = 0;
        value.number = std::strtod(start, &end);
        if (end == start || errno == ERANGE) fail("expected a value");
        value.kind = Json::Kind::Number;
        pos_ += static_cast<std::size_t>(end - start);
        return value;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    std::string parse_string() {
        expect('"');
        std::string out;
        while (true) {
            if (pos_ >= text_.size()) fail("unterminated string");
            const char c = text_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= text_.size()) fail("unterminated string");
            const char e = text_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    if (pos_ + 4 > text_.size()) fail("bad \\u escape");
                    const std::string hex = text_.substr(pos_, 4);
                    char* end = nullptr;
                    const unsigned long code = std::strtoul(hex.c_str(), &end, 16);
                    if (end != hex.c_str() + 4) fail("bad \\u escape");
                    pos_ += 4;
                    append_utf8(out, static_cast<unsigned>(code));  // surrogate pairs stay two code units
                    break;
                }
                default: fail("bad escape in a string");
            }
        }
    }

    const std::string& text_;
    std::string where_;
    std::size_t pos_ = 0;
};

int whole_number(const Json* value, const std::string& key, const std::string& where) {
    if (value == nullptr || value->kind != Json::Kind::Number || value->number != static_cast<int>(value->number)) {
        throw Error(where + ": the model card's \"" + key + "\" is not a whole number; write the manifest again with "
                    "zoe-export trt --rebuild.");
    }
    return static_cast<int>(value->number);
}

std::string text_or(const Json* value, const std::string& fallback) {
    return value != nullptr && value->kind == Json::Kind::String ? value->text : fallback;
}

}  // namespace

std::string manifest_path_for(const std::string& engine_path) { return engine_path + ".json"; }

ModelCard read_model_card(const std::string& manifest_path) {
    ModelCard card;
    std::ifstream file(manifest_path, std::ios::binary);
    if (!file) return card;  // no manifest: the caller decides from the engine itself
    std::ostringstream buffer;
    buffer << file.rdbuf();
    const std::string text = buffer.str();
    const Json root = Parser(text, manifest_path).parse_document();
    const Json* found = root.get("card");
    if (found == nullptr || found->kind != Json::Kind::Object) {
        throw Error(manifest_path + " has no model card (\"card\"): it was written by an older zoe-export; rebuild "
                    "the engine with zoe-export trt --rebuild.");
    }
    card.found = true;
    card.io = text_or(found->get("io"), "model");
    if (card.io != "model" && card.io != "frame") {
        throw Error(manifest_path + ": io \"" + card.io + "\" is neither model nor frame; upgrade this app.");
    }
    card.size = {whole_number(found->get("height"), "height", manifest_path),
                 whole_number(found->get("width"), "width", manifest_path)};
    card.size_range = text_or(found->get("size_range"), "");
    card.fit = text_or(found->get("fit"), "stretch");
    card.input_name = text_or(found->get("input_name"), card.input_name);
    card.precision = text_or(found->get("precision"), "");
    const Json* flip = found->get("flip");
    card.flip = flip != nullptr && flip->kind == Json::Kind::Bool && flip->boolean;
    const Json* frame = found->get("frame_size");
    if (frame != nullptr && frame->kind == Json::Kind::Array && frame->items.size() == 2) {
        card.frame_size = {whole_number(&frame->items[0], "frame_size", manifest_path),
                           whole_number(&frame->items[1], "frame_size", manifest_path)};
    }
    return card;
}

}  // namespace zoe
