"""``zoe-export openvino``: the verification and the files written on success (exit 0); one line and nothing
written on a user error (exit 1). The graphs are tests/fakes/graphs.py's (milliseconds to make, the real card)."""
import sys

import pytest
from fakes.graphs import dynamic_graph

from zoe_export.cli.main import main

pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install 'zoe-export[openvino]')")


def _error(argv, capsys):
    """The error printed (after the log lines of the stages that ran), checked to be one, without a traceback."""
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "Traceback" not in err
    return err[err.index("error: "):]


def test_converts_verifies_and_says_what_it_wrote(tmp_path, capsys):
    graph = dynamic_graph(tmp_path / "m.onnx", batch=None)
    assert main(["openvino", "--onnx", str(graph)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("verify   batch ") and "REL 0.00e+00" in out[0]
    assert out[4].startswith("verify   passed: mean REL") and "OpenVINO" in out[4] and "ONNX Runtime" in out[4]
    assert [line.split()[1] for line in out[5:]] == [str(tmp_path / n) for n in
                                                     ("m.xml", "m.bin", "m.xml.json", "m.xml.parity.png")]
    assert out[5].startswith("wrote    ") and "fp32 test-N" in out[5]


def test_output_and_no_verify(tmp_path, capsys):
    graph = dynamic_graph(tmp_path / "m.onnx")
    out_xml = tmp_path / "ir" / "model.xml"
    assert main(["openvino", "--onnx", str(graph), "--output", str(out_xml), "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert "verify   skipped (--no-verify): the IR was not run" in out and f"wrote    {out_xml}  " in out
    assert sorted(p.name for p in out_xml.parent.iterdir()) == ["model.bin", "model.xml", "model.xml.json"]


def test_an_output_without_xml_is_refused_naming_the_flag(tmp_path, capsys):
    graph = dynamic_graph(tmp_path / "m.onnx")
    err = _error(["openvino", "--onnx", str(graph), "--output", str(tmp_path / "m.ir")], capsys)
    assert f"--output {tmp_path / 'm.ir'}: name the IR NAME.xml" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_a_missing_graph_is_one_line(tmp_path, capsys):
    err = _error(["openvino", "--onnx", str(tmp_path / "nope.onnx")], capsys)
    assert err.count("\n") == 1 and "nope.onnx does not exist; pass an .onnx graph from zoe-export onnx" in err


def test_a_failing_verification_exits_1_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from zoe_export.compare.tolerance import Tolerance
    from zoe_export.openvino import export as export_module

    impossible = Tolerance(max_rel=-1.0, min_delta1=2.0, max_logit_rel=0.0)
    monkeypatch.setattr(export_module, "verification_tolerance", lambda card: (impossible, "impossible"))
    graph = dynamic_graph(tmp_path / "m.onnx")
    err = _error(["openvino", "--onnx", str(graph), "--output", str(tmp_path / "out" / "m.xml")], capsys)
    assert "nothing written" in err and "--no-verify writes it unchecked" in err
    assert "input0: metric_depth: REL 0 > -1" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # nor the folder it made


def test_without_openvino_one_line_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    graph = dynamic_graph(tmp_path / "m.onnx")
    err = _error(["openvino", "--onnx", str(graph)], capsys)
    assert err.count("\n") == 1 and "pip install 'zoe-export[openvino]'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_help_imports_no_heavy_module():
    import subprocess

    code = ("import sys; from zoe_export.cli.main import main\n"
            "try:\n    main(['openvino', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'openvino') if m in sys.modules), "
            "file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: zoe-export openvino" in out.stdout and out.stderr.strip() == "[]"
