#!/usr/bin/env bash
# The OpenVINO CPU report (issue 16), as it was made: M12-N at 384x512 on seeded random weights, batch 1 and 4.
# Takes about 20 minutes on 2 cores and 22 GB of memory at its peak (six backends, each in its own process).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.venv/bin
W=${WORK:-/tmp/ov16}
mkdir -p "$W/cli" "$W/ir"
# 10 generated scenes: 8 to calibrate on, 2 held out to measure the budget on
$B/zoe-export calib --synthetic 10 --variant M12-N --count 10 --output "$W/calib"
# the FP32 graph with a free batch (ONNX Runtime and the OpenVINO f32/bf16 runs)
$B/zoe-export onnx --variant M12-N --random-weights --dynamic-batch --output "$W/zoed_m12_n_b.onnx"
# INT8, its budget searched and judged where it will run: OpenVINO, bf16 elsewhere (artefacts/zoed_m12_n_int8.*)
$B/zoe-export onnx --variant M12-N --random-weights --dynamic-batch --precision int8 --calib "$W/calib" \
    --high-precision fp32 --max-rel-drift 2e-3 --measure-on openvino:bf16 --backend builtin \
    --output "$W/cli/zoed_m12_n_int8.onnx"
# OpenVINO IR of both, each verified against its graph (artefacts/*.xml.json)
$B/zoe-export openvino --onnx "$W/zoed_m12_n_b.onnx" --output "$W/ir/zoed_m12_n.xml"
$B/zoe-export openvino --onnx "$W/cli/zoed_m12_n_int8.onnx" --output "$W/ir/zoed_m12_n_int8.xml"
# one interleaved run, parity against PyTorch FP32 on the structured scenes, per-operator profiles
$B/zoe-bench --torch --variant M12-N --random-weights --onnx "$W/zoed_m12_n_b.onnx" \
    --openvino "$W/ir/zoed_m12_n.xml" --openvino "$W/ir/zoed_m12_n_int8.xml" --ov-precision f32,bf16 \
    --batch-sizes 1,4 --iters 6 --parity --profile --output benchmarks/cpu_m12-n_openvino
