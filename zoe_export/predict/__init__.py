"""Depth for real inputs: folders, videos and streams through any backend, pipelined (``zoe-export predict``).

    from zoe_export.io.sources import collect_sources
    from zoe_export.predict import Layout, PredictOptions, run_predict
    from zoe_export.runtime import DepthEngine

    sources, skipped = collect_sources(["photos/", "drive.mp4"])
    with DepthEngine("zoed_m12_n.onnx") as engine:
        result = run_predict(engine, sources, PredictOptions(Layout(Path("out"), ("mm16", "ply")), batch=4))
    write_summary(Path("out/predict_summary.json"), result, engine.model)

For one frame in an app, ``DepthEngine.predict`` and :mod:`zoe_export.geometry` are all it takes.
"""
from .outputs import DEFAULT_SAVES, SAVE_KINDS, CloudOptions, Layout, parse_saves
from .pipeline import STAGES, PredictOptions, RunResult, SourceRecord, run_predict
from .summary import exit_status, print_report, write_summary

__all__ = [
    "DEFAULT_SAVES", "SAVE_KINDS", "STAGES", "CloudOptions", "Layout", "PredictOptions", "RunResult", "SourceRecord",
    "exit_status", "parse_saves", "print_report", "run_predict", "write_summary",
]
