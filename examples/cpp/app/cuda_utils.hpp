// Small RAII wrappers over the CUDA runtime: every call is checked, failures throw CudaError.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

namespace zoe_trt {

class CudaError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline void check_cuda(cudaError_t status, const char* what) {
    if (status != cudaSuccess) {
        throw CudaError(std::string("CUDA call ") + what + " failed: " + cudaGetErrorName(status) + " (" +
                        cudaGetErrorString(status) + ")");
    }
}

// Destructors cannot throw: report a failed release and carry on.
inline void warn_cuda(cudaError_t status, const char* what) {
    if (status != cudaSuccess) std::fprintf(stderr, "warning: %s failed: %s\n", what, cudaGetErrorString(status));
}

// Device memory from cudaMalloc, freed with cudaFree.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
        check_cuda(cudaMalloc(&data_, bytes == 0 ? 1 : bytes), "cudaMalloc");
    }
    ~DeviceBuffer() { release(); }
    DeviceBuffer(DeviceBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            bytes_ = std::exchange(other.bytes_, 0);
        }
        return *this;
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    void* get() const { return data_; }
    std::size_t bytes() const { return bytes_; }

private:
    void release() {
        if (data_) warn_cuda(cudaFree(data_), "cudaFree");
        data_ = nullptr;
    }

    void* data_ = nullptr;
    std::size_t bytes_ = 0;
};

// A CUDA stream; one per execution context.
class CudaStream {
public:
    CudaStream() { check_cuda(cudaStreamCreate(&stream_), "cudaStreamCreate"); }
    ~CudaStream() { warn_cuda(cudaStreamDestroy(stream_), "cudaStreamDestroy"); }
    CudaStream(const CudaStream&) = delete;
    CudaStream& operator=(const CudaStream&) = delete;

    cudaStream_t get() const { return stream_; }
    void synchronize() const { check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

private:
    cudaStream_t stream_ = nullptr;
};

// A CUDA event for timing work on a stream.
class CudaEvent {
public:
    CudaEvent() { check_cuda(cudaEventCreate(&event_), "cudaEventCreate"); }
    ~CudaEvent() { warn_cuda(cudaEventDestroy(event_), "cudaEventDestroy"); }
    CudaEvent(const CudaEvent&) = delete;
    CudaEvent& operator=(const CudaEvent&) = delete;

    void record(cudaStream_t stream) { check_cuda(cudaEventRecord(event_, stream), "cudaEventRecord"); }

    // Milliseconds from `start` to this event; both must have completed (synchronise first).
    float milliseconds_since(const CudaEvent& start) const {
        float ms = 0.0f;
        check_cuda(cudaEventElapsedTime(&ms, start.event_, event_), "cudaEventElapsedTime");
        return ms;
    }

private:
    cudaEvent_t event_ = nullptr;
};

}  // namespace zoe_trt
