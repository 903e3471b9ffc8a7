"""``zoe-export onnx``: options that cannot combine are refused before any model is built."""
import pytest

from zoe_export.cli.main import main


@pytest.mark.parametrize("extra, match", [
    (["--dynamic-size", "--height", "64"], "exclude each other"),
    (["--dynamic-size", "32x32:128x190"], "multiples of 32"),
    (["--io", "frame", "--input-format", "float-nchw"], "drop --input-format float-nchw"),
    (["--flip"], "--flip belongs to a frame graph: add --io frame"),
    (["--frame-size", "480x640"], "--frame-size belongs to a frame graph"),
    (["--io", "frame", "--precision", "fp16"], "precision stage converts model graphs"),
])
def test_contradicting_options_are_one_line_before_the_model_is_built(tmp_path, capsys, monkeypatch, extra, match):
    import zoe_export.cli.onnx as command

    monkeypatch.setattr(command, "load_model_from_args", lambda *a: pytest.fail("built the model"))
    rc = main(["onnx", "--variant", "test-N", "--random-weights", "--output", str(tmp_path / "m.onnx"), *extra])
    err = capsys.readouterr().err
    assert rc == 1 and match in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_frame_size_is_parsed_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["onnx", "--variant", "test-N", "--io", "frame", "--frame-size", "480"])
    assert exc.value.code == 2 and "HEIGHTxWIDTH" in capsys.readouterr().err
