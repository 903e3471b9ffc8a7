// The model card zoe-export writes beside every engine (ENGINE.engine.json, "card"), as the app needs it:
// whether the engine takes raw frames (io "frame") or model inputs, its model size and size range, flip.
#pragma once

#include <string>

#include "zoe/image.hpp"

namespace zoe {

struct ModelCard {
    bool found = false;        // false: no manifest beside the engine (everything below is the default)
    std::string io = "model";  // "model": preprocessed input at the model size; "frame": raw uint8 frames in
    Size size;                 // the model size; a dynamic-size model's default (native) size
    std::string size_range;    // "MIN_HxMIN_W:MAX_HxMAX_W" of a dynamic-size model, "" when fixed
    std::string fit = "stretch";  // frame graphs: "minimal" (keep-aspect size inside) or "stretch"
    bool flip = false;         // a frame graph averages each frame with its mirror image inside
    Size frame_size;           // a frame graph for one camera size; 0x0: any frame size
    std::string input_name = "image";
    std::string precision;

    bool is_frame() const { return io == "frame"; }
    bool dynamic_size() const { return !size_range.empty(); }
};

// The card in a zoe-export manifest (`.engine.json` or `.onnx.json`). A missing file gives a card with
// found == false; a file that is not a manifest with a card throws zoe::Error saying what is wrong.
ModelCard read_model_card(const std::string& manifest_path);

// The manifest zoe-export writes beside an engine: ENGINE + ".json".
std::string manifest_path_for(const std::string& engine_path);

}  // namespace zoe
