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

// The engine's `image` input as the app needs it.
struct InputSpec {
    std::string name;
    zoe::ModelInput model;  // H, W and float-nchw / uint8-nhwc, from the tensor's dtype and shape
    int min_batch = 1;      // fixed engines: min == max == the batch they were built for
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

    // Fix the batch size (setInputShape for dynamic engines), allocate and bind every I/O tensor.
    void set_batch(int batch);
    int batch() const { return batch_; }

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
    void bind_input(int batch);
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
    DeviceBuffer input_device_;
    std::vector<Output> outputs_;
};

}  // namespace zoe_trt
