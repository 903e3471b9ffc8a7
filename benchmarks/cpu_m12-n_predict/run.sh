#!/usr/bin/env bash
# zoe-export predict end to end against the backend's compute-only rate (zoe-bench), M12-N on ONNX Runtime CPU.
#   bash benchmarks/cpu_m12-n_predict/run.sh WORK_DIR    (needs about 30 minutes on 2 cores)
set -euo pipefail
work=${1:?work folder}
here=$(cd "$(dirname "$0")" && pwd)
graph=$work/zoed_m12_n_b.onnx
[ -f "$graph" ] || zoe-export onnx --variant M12-N --random-weights --dynamic-batch --output "$graph"
[ -d "$work/frames" ] || python "$here/make_inputs.py" "$work"
[ -f "$here/compute_only/result.json" ] || \
  zoe-bench --onnx "$graph" --batch-sizes 1,4 --warmup 1 --iters 5 --output "$here/compute_only"
for batch in 1 4; do
  zoe-export predict "$work/frames" --onnx "$graph" --no-flip --batch "$batch" --no-progress \
    --output "$work/out_folder_b$batch"
  cp "$work/out_folder_b$batch/predict_summary.json" "$here/folder_b$batch.json"
  zoe-export predict "$work/pan.mp4" --onnx "$graph" --no-flip --batch "$batch" --no-progress \
    --output "$work/out_video_b$batch"
  cp "$work/out_video_b$batch/predict_summary.json" "$here/video_b$batch.json"
done
python "$here/plot.py"
