"""The model card inside an OpenVINO IR: written into the runtime info, read back from the XML alone, and refused
with the command that makes a good one when it is missing, unreadable or newer than this zoe-export reads.

The IRs are converted from tests/fakes/graphs.py's graphs (milliseconds to make, the real export's card)."""
import json
import sys

import pytest
from fakes.graphs import dynamic_card, dynamic_graph

from zoe_export.card import CARD_VERSION
from zoe_export.errors import ZoeExportError
from zoe_export.openvino import import_openvino, read_card, read_ir_card, write_ir_card
from zoe_export.openvino.ir import RT_INFO_KEY

ov = pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install 'zoe-export[openvino]')")


def _plain_ir(tmp_path, name="plain.xml"):
    """An IR as OpenVINO's own tools make it: converted and saved, no card."""
    model = ov.convert_model(str(dynamic_graph(tmp_path / "m.onnx", batch=None)))
    return model, tmp_path / name


def test_the_card_goes_into_the_runtime_info_and_reads_back_from_the_xml_alone(tmp_path):
    model, xml = _plain_ir(tmp_path)
    card = dynamic_card(batch=None)
    write_ir_card(model, card)
    ov.save_model(model, str(xml))
    xml.with_suffix(".bin").unlink()  # the weights are not needed to read it
    assert read_ir_card(xml) == card
    assert read_card(xml) == card  # the backend's reader: by suffix


def test_read_card_of_an_onnx_graph_is_its_metadata(tmp_path):
    path = dynamic_graph(tmp_path / "m.onnx", batch=None)
    assert read_card(path) == dynamic_card(batch=None)


def test_an_ir_converted_elsewhere_is_refused_with_the_command_that_makes_one(tmp_path):
    model, xml = _plain_ir(tmp_path)
    ov.save_model(model, str(xml))
    with pytest.raises(ZoeExportError, match=r"has no zoe-export model card in its runtime info .*"
                                             r"zoe-export openvino --onnx M.onnx"):
        read_ir_card(xml)


def test_a_card_of_a_newer_version_is_refused_with_the_upgrade(tmp_path):
    model, xml = _plain_ir(tmp_path)
    newer = dict(dynamic_card().to_dict(), version=CARD_VERSION + 1)
    model.set_rt_info(json.dumps(newer), list(RT_INFO_KEY))
    ov.save_model(model, str(xml))
    with pytest.raises(ZoeExportError, match=f"model card of version {CARD_VERSION + 1}, newer than this zoe-export "
                                             f"reads \\({CARD_VERSION}\\): upgrade zoe-export"):
        read_ir_card(xml)


def test_an_unreadable_card_or_xml_is_refused(tmp_path):
    model, xml = _plain_ir(tmp_path)
    model.set_rt_info("{not json", list(RT_INFO_KEY))
    ov.save_model(model, str(xml))
    with pytest.raises(ZoeExportError, match="its model card is not readable JSON"):
        read_ir_card(xml)
    broken = tmp_path / "broken.xml"
    broken.write_text("<net><layers>")
    with pytest.raises(ZoeExportError, match="is not a readable OpenVINO IR"):
        read_ir_card(broken)
    with pytest.raises(ZoeExportError, match="does not exist; convert the ONNX graph again"):
        read_ir_card(tmp_path / "missing.xml")


def test_a_missing_openvino_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(ZoeExportError, match=r"openvino is not installed \(zoe-export openvino needs it\): "
                                             r"pip install 'zoe-export\[openvino\]'"):
        import_openvino("zoe-export openvino")
