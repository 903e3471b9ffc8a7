"""Reading a result dict: batch sizes in order, rows for every gap, clocks and iterations in words."""
from zoe_export.bench.report.reading import (
    batch_keys,
    clock_text,
    iterations_text,
    machine_label,
    measured_rows,
    rows,
)


def test_batch_sizes_asked_for_or_measured_in_numeric_order(result):
    result["options"]["batch_sizes"] = [1, 2, 16]
    result["backends"][0]["batches"][4] = result["backends"][0]["batches"]["1"]  # an int key, as Python gives it
    assert batch_keys(result) == ["1", "2", "4", "16"]


def test_every_gap_is_a_row_with_a_note(result):
    result["options"]["batch_sizes"] = [1, 2, 4]
    notes = [(row.name, row.batch, row.note) for row in rows(result) if row.note]
    assert notes == [("torch fp32 cpu", "4", "not measured"), ("ort fp32 cpu", "4", "not measured"),
                     ("ort int8 cpu", "4", "not measured"),
                     ("trt fp16 cuda", "-", "FAILED: RuntimeError: no CUDA device")]
    assert len(measured_rows(result)) == 6 and measured_rows(result)[0].latency("p50") == 1000.0
    assert measured_rows(result)[0].stage("compute") == 800.0 and measured_rows(result)[0].stage("h2d") is None


def test_clocks_iterations_and_the_machine_in_words(gpu_and_cpu):
    assert clock_text(gpu_and_cpu) == ("perf_counter (torch fp32 cpu, ort fp32 cpu, ort int8 cpu); "
                                       "cuda-events (trt fp16 cuda)")
    assert iterations_text(gpu_and_cpu) == ("12 timed calls per backend and batch in 4 interleaved rounds, "
                                            "after 2 untimed warm-up calls")
    assert clock_text({}) == "no clock (nothing timed)" and iterations_text({}) == "no timed calls"
    assert machine_label({"gpu": "NVIDIA H100", "processor": "x86_64", "cpu_count": 16}) == \
        "NVIDIA H100, x86_64 with 16 CPU cores"
