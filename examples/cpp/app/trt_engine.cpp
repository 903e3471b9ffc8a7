#include "trt_engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace zoe_trt {
namespace {

using nvinfer1::DataType;

void require(bool ok, const std::string& message) {
    if (!ok) throw std::runtime_error(message);
}

const char* severity_name(nvinfer1::ILogger::Severity severity) {
    switch (severity) {
        case nvinfer1::ILogger::Severity::kINTERNAL_ERROR: return "internal error";
        case nvinfer1::ILogger::Severity::kERROR: return "error";
        case nvinfer1::ILogger::Severity::kWARNING: return "warning";
        case nvinfer1::ILogger::Severity::kINFO: return "info";
        default: return "verbose";
    }
}

const char* type_name(DataType type) {
    switch (type) {
        case DataType::kFLOAT: return "float32";
        case DataType::kHALF: return "float16";
        case DataType::kBF16: return "bfloat16";
        case DataType::kINT8: return "int8";
        case DataType::kUINT8: return "uint8";
        case DataType::kINT32: return "int32";
        case DataType::kINT64: return "int64";
        case DataType::kBOOL: return "bool";
        default: return "another type";
    }
}

std::size_t type_size(DataType type, const std::string& tensor) {
    switch (type) {
        case DataType::kFLOAT:
        case DataType::kINT32: return 4;
        case DataType::kHALF:
        case DataType::kBF16: return 2;
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kBOOL: return 1;
        case DataType::kINT64: return 8;
        default:
            throw std::runtime_error("tensor '" + tensor + "' has an unsupported data type (" + type_name(type) + ").");
    }
}

std::string dims_text(const nvinfer1::Dims& dims) {
    std::ostringstream text;
    text << "(";
    for (int32_t i = 0; i < dims.nbDims; ++i) text << (i ? ", " : "") << dims.d[i];
    text << ")";
    return text.str();
}

std::string size_text(zoe::Size size) { return std::to_string(size.height) + "x" + std::to_string(size.width); }

std::vector<std::int64_t> dims_vector(const nvinfer1::Dims& dims) {
    return std::vector<std::int64_t>(dims.d, dims.d + dims.nbDims);
}

std::size_t volume(const std::vector<std::int64_t>& shape) {
    std::size_t count = 1;
    for (std::int64_t d : shape) count *= static_cast<std::size_t>(d);
    return count;
}

std::vector<char> read_engine_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    require(static_cast<bool>(file), "cannot open engine file " + path + ": " + std::strerror(errno) + ".");
    const std::streamoff size = file.tellg();
    require(size > 0, "engine file " + path + " is empty.");
    std::vector<char> blob(static_cast<std::size_t>(size));
    file.seekg(0);
    require(static_cast<bool>(file.read(blob.data(), size)), "cannot read engine file " + path + ".");
    return blob;
}

// IEEE half -> float, for engines whose outputs are float16.
float half_to_float(std::uint16_t half) {
    const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
    std::uint32_t exponent = (half >> 10) & 0x1Fu;
    std::uint32_t mantissa = half & 0x3FFu;
    std::uint32_t bits = 0;
    if (exponent == 0x1Fu) {
        bits = sign | 0x7F800000u | (mantissa << 13);  // inf / nan
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa != 0) {  // subnormal: normalise
        exponent = 113;
        while (!(mantissa & 0x400u)) {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    } else {
        bits = sign;
    }
    float value = 0.0f;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

}  // namespace

void Logger::log(Severity severity, const char* message) noexcept {
    if (severity <= threshold_) std::fprintf(stderr, "[TensorRT %s] %s\n", severity_name(severity), message);
}

DepthEngine::DepthEngine(const std::string& engine_path, Logger& logger) {
    runtime_.reset(nvinfer1::createInferRuntime(logger));
    require(runtime_ != nullptr, "createInferRuntime failed; is libnvinfer from the same TensorRT as the headers?");
    load(engine_path);
    read_input_spec();
}

DepthEngine::~DepthEngine() {
    // The stream may still use the buffers; wait before they are freed.
    warn_cuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
}

void DepthEngine::load(const std::string& engine_path) {
    const std::vector<char> blob = read_engine_file(engine_path);
    engine_.reset(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
    require(engine_ != nullptr,
            "cannot deserialize " + engine_path + " (see TensorRT's message above). An engine only runs with the "
            "TensorRT version and GPU compute capability it was built for: check " + engine_path +
            ".json (written by zoe-export trt) against this machine, or rebuild the engine here.");
    context_.reset(engine_->createExecutionContext());
    require(context_ != nullptr, "createExecutionContext failed (out of GPU memory?).");
    const int32_t count = engine_->getNbIOTensors();
    for (int32_t i = 0; i < count; ++i) {
        const char* name = engine_->getIOTensorName(i);
        require(name != nullptr, "getIOTensorName(" + std::to_string(i) + ") returned no name.");
        const nvinfer1::TensorIOMode mode = engine_->getTensorIOMode(name);
        if (mode == nvinfer1::TensorIOMode::kINPUT) {
            require(input_.name.empty(), "the engine has more than one input; a ZoeDepth engine has one: 'image' "
                                         "('frame' for a frame engine).");
            input_.name = name;
        } else if (mode == nvinfer1::TensorIOMode::kOUTPUT) {
            output_names_.emplace_back(name);
        }
    }
    require(!input_.name.empty(), "the engine has no input tensor.");
    require(has_output("metric_depth"), "the engine has no 'metric_depth' output; is it a zoe-export engine?\n" +
                                            describe());
}

void DepthEngine::read_input_spec() {
    const char* name = input_.name.c_str();
    const nvinfer1::Dims shape = engine_->getTensorShape(name);
    const DataType type = engine_->getTensorDataType(name);
    const bool nchw = shape.nbDims == 4 && type == DataType::kFLOAT && shape.d[1] == 3;
    const bool nhwc = shape.nbDims == 4 && type == DataType::kUINT8 && shape.d[3] == 3;
    require(nchw || nhwc, "input '" + input_.name + "' is " + type_name(type) + " " + dims_text(shape) +
                              "; expected float32 (B, 3, H, W) or uint8 (B, H, W, 3) as zoe-export writes.");
    input_.model.format = nchw ? zoe::InputFormat::FloatNchw : zoe::InputFormat::Uint8Nhwc;
    const int h_axis = nchw ? 2 : 1;
    const int height = static_cast<int>(shape.d[h_axis]);
    const int width = static_cast<int>(shape.d[h_axis + 1]);
    const nvinfer1::Dims depth = engine_->getTensorShape("metric_depth");
    input_.frame = depth.nbDims == 3;  // (B, H, W) at the frame's size; model inputs give (B, 1, H, W)
    require(!input_.frame || nhwc, "'metric_depth' is " + dims_text(depth) + " (a frame engine's) but input '" +
                                       input_.name + "' is not uint8 (B, H, W, 3).");
    input_.dynamic_size = height < 0 || width < 0;
    const bool dynamic = input_.dynamic_size || shape.d[0] < 0;
    require(!dynamic || engine_->getNbOptimizationProfiles() > 0,
            "input '" + input_.name + "' has free dimensions " + dims_text(shape) + " but the engine has no "
            "optimization profile.");
    if (input_.dynamic_size) {
        const nvinfer1::Dims low = engine_->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMIN);
        const nvinfer1::Dims high = engine_->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMAX);
        input_.min_size = {static_cast<int>(low.d[h_axis]), static_cast<int>(low.d[h_axis + 1])};
        input_.max_size = {static_cast<int>(high.d[h_axis]), static_cast<int>(high.d[h_axis + 1])};
        input_.model.height = input_.model.width = 0;  // set per image
    } else {
        require(height > 0 && width > 0,
                "input '" + input_.name + "' has an unreadable size " + dims_text(shape) + ".");
        input_.model.height = height;
        input_.model.width = width;
        input_.min_size = input_.max_size = {height, width};
    }
    if (shape.d[0] > 0) {
        input_.min_batch = input_.max_batch = static_cast<int>(shape.d[0]);
        return;
    }
    input_.min_batch = static_cast<int>(engine_->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMIN).d[0]);
    input_.max_batch = static_cast<int>(engine_->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMAX).d[0]);
    require(input_.min_batch >= 1 && input_.max_batch >= input_.min_batch,
            "cannot read the batch range of input '" + input_.name + "' from optimization profile 0.");
}

bool DepthEngine::has_output(const std::string& name) const {
    for (const std::string& output : output_names_) {
        if (output == name) return true;
    }
    return false;
}

std::string DepthEngine::describe() const {
    std::ostringstream text;
    const int32_t count = engine_->getNbIOTensors();
    for (int32_t i = 0; i < count; ++i) {
        const char* name = engine_->getIOTensorName(i);
        const bool is_input = engine_->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
        text << "  " << (is_input ? "input  " : "output ") << name << ": "
             << type_name(engine_->getTensorDataType(name)) << " " << dims_text(engine_->getTensorShape(name)) << "\n";
    }
    return text.str();
}

void DepthEngine::set_batch(int batch) {
    require(!input_.dynamic_size, "the engine takes images of several sizes: call set_input(batch, size).");
    set_input(batch, {input_.model.height, input_.model.width});
}

void DepthEngine::set_input(int batch, zoe::Size size) {
    require(batch >= input_.min_batch && batch <= input_.max_batch,
            "batch " + std::to_string(batch) + " is outside the engine's range " + std::to_string(input_.min_batch) +
                ".." + std::to_string(input_.max_batch) + ".");
    const zoe::Size& low = input_.min_size;
    const zoe::Size& high = input_.max_size;
    require(input_.dynamic_size || (size.height == low.height && size.width == low.width),
            "input size " + size_text(size) + ": the engine is built for " + size_text(low) + " only.");
    require(size.height >= low.height && size.height <= high.height && size.width >= low.width &&
                size.width <= high.width,
            "input size " + size_text(size) + " is outside the engine's size profile (" + size_text(low) + " to " +
                size_text(high) + "): rebuild the engine with zoe-export trt --size-profile MIN:OPT:MAX covering it "
                "(the graph decides which sizes it takes).");
    stream_.synchronize();  // nothing in flight may still use the buffers replaced below
    bind_input(batch, size);
    outputs_.clear();
    for (const std::string& name : output_names_) outputs_.push_back(bind_output(name));
    const std::vector<std::int64_t> expected =
        input_.frame ? std::vector<std::int64_t>{batch, size.height, size.width}
                     : std::vector<std::int64_t>{batch, 1, size.height, size.width};
    require(output_shape("metric_depth") == expected,
            "'metric_depth' is " + dims_text(context_->getTensorShape("metric_depth")) + "; expected " +
                (input_.frame ? "(B, H, W) at the frame's size." : "(B, 1, H, W) at the input size."));
    batch_ = batch;
    size_ = size;
}

void DepthEngine::bind_input(int batch, zoe::Size size) {
    const char* name = input_.name.c_str();
    nvinfer1::Dims shape = engine_->getTensorShape(name);
    const int h_axis = input_.model.format == zoe::InputFormat::FloatNchw ? 2 : 1;
    const bool free = shape.d[0] < 0 || shape.d[h_axis] < 0 || shape.d[h_axis + 1] < 0;
    shape.d[0] = batch;  // this context runs `batch` images of `size`
    shape.d[h_axis] = size.height;
    shape.d[h_axis + 1] = size.width;
    if (free) {
        require(context_->setInputShape(name, shape),
                "setInputShape" + dims_text(shape) + " failed for '" + input_.name + "' (see TensorRT's message).");
    }
    const std::size_t item = 3 * static_cast<std::size_t>(size.height) * static_cast<std::size_t>(size.width);
    const std::size_t element = input_.model.format == zoe::InputFormat::FloatNchw ? sizeof(float) : 1;
    input_device_ = DeviceBuffer(static_cast<std::size_t>(batch) * item * element);
    require(context_->setTensorAddress(name, input_device_.get()),
            "setTensorAddress failed for '" + input_.name + "'.");
}

DepthEngine::Output DepthEngine::bind_output(const std::string& name) {
    Output output;
    output.name = name;
    output.type = engine_->getTensorDataType(name.c_str());
    const nvinfer1::Dims dims = context_->getTensorShape(name.c_str());  // resolved for the input shape set
    output.shape = dims_vector(dims);
    const bool resolved = dims.nbDims >= 0 &&
                          std::all_of(output.shape.begin(), output.shape.end(), [](std::int64_t d) { return d >= 0; });
    require(resolved, "cannot resolve the shape of output '" + name + "': " + dims_text(dims) + ".");
    const std::size_t bytes = volume(output.shape) * type_size(output.type, name);
    output.device = DeviceBuffer(bytes);
    output.host.resize(bytes);
    require(context_->setTensorAddress(name.c_str(), output.device.get()),
            "setTensorAddress failed for '" + name + "'.");
    return output;
}

void DepthEngine::upload(const void* host, std::size_t bytes) {
    require(bytes == input_device_.bytes(), "input of " + std::to_string(bytes) + " bytes does not match the " +
                                                std::to_string(input_device_.bytes()) + " bytes bound for batch " +
                                                std::to_string(batch_) + "; call set_input() first.");
    check_cuda(cudaMemcpyAsync(input_device_.get(), host, bytes, cudaMemcpyHostToDevice, stream_.get()),
               "cudaMemcpyAsync (input to device)");
}

void DepthEngine::infer() {
    require(batch_ > 0, "set_input() (or set_batch()) must be called before infer().");
    require(context_->enqueueV3(stream_.get()), "enqueueV3 failed (see TensorRT's message above).");
}

void DepthEngine::download() {
    for (Output& output : outputs_) {
        check_cuda(cudaMemcpyAsync(output.host.data(), output.device.get(), output.host.size(),
                                   cudaMemcpyDeviceToHost, stream_.get()),
                   "cudaMemcpyAsync (output to host)");
    }
}

const DepthEngine::Output& DepthEngine::find_output(const std::string& name) const {
    for (const Output& output : outputs_) {
        if (output.name == name) return output;
    }
    throw std::runtime_error("no bound output '" + name + "'; call set_input() first.");
}

std::vector<std::int64_t> DepthEngine::output_shape(const std::string& name) const { return find_output(name).shape; }

std::vector<float> DepthEngine::output_as_float(const std::string& name) const {
    const Output& output = find_output(name);
    const std::size_t count = volume(output.shape);
    std::vector<float> values(count);
    if (output.type == DataType::kFLOAT) {
        std::memcpy(values.data(), output.host.data(), count * sizeof(float));
    } else if (output.type == DataType::kHALF) {
        for (std::size_t i = 0; i < count; ++i) {
            std::uint16_t half = 0;
            std::memcpy(&half, &output.host[2 * i], sizeof half);
            values[i] = half_to_float(half);
        }
    } else {
        throw std::runtime_error("output '" + name + "' is " + type_name(output.type) +
                                 "; expected float32 or float16.");
    }
    return values;
}

}  // namespace zoe_trt
