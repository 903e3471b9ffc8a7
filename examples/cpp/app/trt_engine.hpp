// A ZoeDepth TensorRT engine with its execution context, CUDA stream and I/O buffers.
//
// Uses only the name-based tensor API documented for both TensorRT 10 and 11: getNbIOTensors /
// getIOTensorName / getTensorIOMode / getTensorShape / getTensorDataType, setInputShape,
// setTensorAddress and enqueueV3. One DepthEngine = one IExecutionContext = one stream: use one
// per thread (several DepthEngines may load the same file; see README.md for sharing an engine).
#pragma once

#include <NvInfer.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda_utils.hpp"
#include "zoe/preprocess.hpp"

namespace zoe_trt {

// Prints TensorRT's messages at `threshold` and more severe to stderr.
class Logger : public nvinfer1::ILogger {
public:
    explicit Logger(Severity threshold = Severity::kWARNING) : threshold_(threshold) {}
    void log(Severity severity, const char* message) noexcept override;

private:
    Severity threshold_;
};

// The engine's input as the app needs it (`image`, or `frame` for a frame engine).
struct InputSpec {
    std::string name;
    zoe::ModelInput model;  // float-nchw / uint8-nhwc from the tensor's dtype; H, W when fixed (0 when free)
    bool dynamic_size = false;  // H and W are free (zoe-export onnx --dynamic-size, or a frame engine)
    zoe::Size min_size;         // the sizes optimization profile 0 takes (fixed engines: the one size)
    zoe::Size max_size;
    bool frame = false;  // a frame engine: raw uint8 (B, H, W, 3) frames in, metric_depth (B, H, W) at their size
    int min_batch = 1;   // fixed engines: min == max == the batch they were built for
    int max_batch = 1;
};

class DepthEngine {
public:
    DepthEngine(const std::string& engine_path, Logger& logger);
    ~DepthEngine();
    DepthEngine(const DepthEngine&) = delete;
    DepthEngine& operator=(const DepthEngine&) = delete;

    const InputSpec& input() const { return input_; }
    bool has_output(const std::string& name) const;
    std::string describe() const;  // every I/O tensor with dtype and engine shape

    // Fix the batch size and the input's height and width (setInputShape for the engine's free dimensions),
    // allocate and bind every I/O tensor. Call again whenever either changes (a frame engine: per frame size).
    void set_input(int batch, zoe::Size size);
    // set_input at the engine's fixed size.
    void set_batch(int batch);
    int batch() const { return batch_; }
    zoe::Size size() const { return size_; }

    // Asynchronous steps on this engine's stream. `host` must stay valid until synchronize().
    void upload(const void* host, std::size_t bytes);
    void infer();
    void download();  // every output into its host copy
    void synchronize() { stream_.synchronize(); }
    cudaStream_t stream() const { return stream_.get(); }

    // An output from the last download(), converted to float (float32 or float16 tensors).
    std::vector<float> output_as_float(const std::string& name) const;
    std::vector<std::int64_t> output_shape(const std::string& name) const;

private:
    struct Output {
        std::string name;
        nvinfer1::DataType type = nvinfer1::DataType::kFLOAT;
        std::vector<std::int64_t> shape;
        DeviceBuffer device;
        std::vector<std::uint8_t> host;
    };

    void load(const std::string& engine_path);
    void read_input_spec();
    void bind_input(int batch, zoe::Size size);
    Output bind_output(const std::string& name);
    const Output& find_output(const std::string& name) const;

    // Declaration order is destruction order reversed: the context goes before the engine, the
    // engine before the runtime; buffers are freed after the stream has been synchronised.
    std::unique_ptr<nvinfer1::IRuntime> runtime_;
    std::unique_ptr<nvinfer1::ICudaEngine> engine_;
    std::unique_ptr<nvinfer1::IExecutionContext> context_;
    CudaStream stream_;
    InputSpec input_;
    std::vector<std::string> output_names_;
    int batch_ = 0;
    zoe::Size size_;
    DeviceBuffer input_device_;
    std::vector<Output> outputs_;
};

}  // namespace zoe_trt
