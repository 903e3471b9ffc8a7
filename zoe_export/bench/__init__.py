"""Benchmark stage (zoe-bench): backends side by side, stage timings, parity, reports, evaluation.

    from zoe_export.bench import BenchOptions, run_benchmark, write_report
    from zoe_export.bench.backends import BackendSpec, onnx_spec
"""
from .report import format_table, write_report
from .session import BenchOptions, run_benchmark

__all__ = ["BenchOptions", "format_table", "run_benchmark", "write_report"]
