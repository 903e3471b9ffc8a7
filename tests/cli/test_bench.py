import json

from zoe_export.cli.bench import main


def test_bench_times_the_torch_model_and_writes_json(tmp_path, capsys):
    rc = main(["--torch", "--variant", "test-K", "--random-weights", "--iters", "4", "--warmup", "1",
               "--batch", "2", "--output", str(tmp_path)])
    assert rc == 0
    result = json.loads((tmp_path / "result.json").read_text())
    latency = result["latency"]
    assert latency["iterations"] == 4 == len(result["latencies_ms"]) and latency["batch"] == 2
    assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p90_ms"]
    assert abs(latency["images_per_s"] - 2000 / latency["mean_ms"]) < 1e-6
    assert result["peak_rss_mb"] > 0 and result["model"]["weights"] == "random"
    assert "p50" in capsys.readouterr().out


def test_bench_refuses_amp_on_the_cpu(capsys):
    assert main(["--torch", "--variant", "test-N", "--random-weights", "--amp"]) == 1
    assert "--amp needs --device cuda" in capsys.readouterr().err
