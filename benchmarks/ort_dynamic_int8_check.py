"""How fast ONNX Runtime's own CPU INT8 path runs M12-N (the figure behind the INT8 goal's analysis).

    python benchmarks/ort_dynamic_int8_check.py FP32.onnx [OUT_INT8.onnx]

quantize_dynamic (MatMul/Gemm weights INT8, activations quantized per call: ORT's MatMulInteger
kernels), then p50 of 4 calls of each graph on the built-in scene and the REL between them. Not a
toolkit feature: our INT8 graphs are Q/DQ for TensorRT, which ONNX Runtime's CPU provider does not
fuse into integer kernels (see README.md, "zoe-bench, CPU").
"""
import sys
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

from zoe_export import preprocess
from zoe_export.io import synthetic


def p50_ms(path: str, x: np.ndarray) -> tuple[float, np.ndarray]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    session.run(None, {"image": x})
    times, out = [], None
    for _ in range(4):
        start = time.perf_counter()
        out = session.run(None, {"image": x})[0]
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), out


def main(source: str, target: str) -> None:
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    x = preprocess.prepare(synthetic.demo_scene(), (384, 512), pad_input=True).batch
    fp32_ms, fp32 = p50_ms(source, x)
    int8_ms, int8 = p50_ms(target, x)
    rel = float(np.mean(np.abs(int8 - fp32) / fp32))
    print(f"FP32 p50 {fp32_ms:.0f} ms, dynamic INT8 p50 {int8_ms:.0f} ms ({fp32_ms / int8_ms:.2f}x), REL {rel:.2e}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "dynamic_int8.onnx")
