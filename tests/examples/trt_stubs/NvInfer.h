// Declarations-only stand-in for TensorRT's NvInfer.h: the subset examples/cpp/app uses, with the signatures of
// TensorRT 10 (nvinfer1, name-based tensor API, Dims64). tests/examples compiles the app against it with
// -fsyntax-only where TensorRT is not installed, so the app's code is type-checked everywhere; it is never linked.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda_runtime_api.h"

#define NV_TENSORRT_MAJOR 10
#define NV_TENSORRT_MINOR 0
#define NV_TENSORRT_PATCH 0

namespace nvinfer1 {

using AsciiChar = char;

class Dims64 {
public:
    static constexpr int32_t MAX_DIMS{8};
    int32_t nbDims;
    int64_t d[MAX_DIMS];
};
using Dims = Dims64;

enum class DataType : int32_t {
    kFLOAT = 0, kHALF = 1, kINT8 = 2, kINT32 = 3, kBOOL = 4, kUINT8 = 5, kFP8 = 6, kBF16 = 7, kINT64 = 8, kINT4 = 9
};
enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };
enum class OptProfileSelector : int32_t { kMIN = 0, kOPT = 1, kMAX = 2 };

class ILogger {
public:
    enum class Severity : int32_t { kINTERNAL_ERROR = 0, kERROR = 1, kWARNING = 2, kINFO = 3, kVERBOSE = 4 };
    virtual void log(Severity severity, AsciiChar const* msg) noexcept = 0;
    ILogger() = default;
    virtual ~ILogger() = default;
};

class IExecutionContext {
public:
    virtual ~IExecutionContext() noexcept;
    bool setInputShape(char const* tensorName, Dims const& dims) noexcept;
    Dims getTensorShape(char const* tensorName) const noexcept;
    bool setTensorAddress(char const* tensorName, void* data) noexcept;
    bool enqueueV3(cudaStream_t stream) noexcept;
};

class ICudaEngine {
public:
    virtual ~ICudaEngine() noexcept;
    Dims getTensorShape(char const* tensorName) const noexcept;
    DataType getTensorDataType(char const* tensorName) const noexcept;
    int32_t getNbOptimizationProfiles() const noexcept;
    TensorIOMode getTensorIOMode(char const* tensorName) const noexcept;
    IExecutionContext* createExecutionContext() noexcept;
    int32_t getNbIOTensors() const noexcept;
    char const* getIOTensorName(int32_t index) const noexcept;
    Dims getProfileShape(char const* tensorName, int32_t profileIndex, OptProfileSelector select) const noexcept;
};

class IRuntime {
public:
    virtual ~IRuntime() noexcept;
    ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept;
};

}  // namespace nvinfer1

namespace nvinfer1 {
IRuntime* createInferRuntime(ILogger& logger) noexcept;
}  // namespace nvinfer1
