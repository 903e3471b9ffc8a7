"""Our TensorRT and cuda-python code against the real bindings of each major version (one subprocess each).

For the latest TensorRT 10.x and 11.x bindings, with cuda-bindings 12.x and 13.x and with the oldest
Polygraphy our pin allows as well as this environment's, the suite in ``standin/`` runs in a
subprocess (a process can load only one ``tensorrt``) over stand-in native libraries
(``bindings.py``). Offline, without the wheels in the cache, these tests skip with that reason.
"""
import json
import os
import subprocess
import sys

import pytest
from contract.bindings import REPO, Bindings, Unavailable
from packaging.requirements import Requirement

from zoe_export.trt.api import POLYGRAPHY

pytestmark = [pytest.mark.contract, pytest.mark.slow]  # a subprocess each, about 10 s

OLDEST_POLYGRAPHY = "polygraphy==" + next(s.version for s in Requirement("polygraphy" + POLYGRAPHY).specifier
                                          if s.operator == ">=")
SETS = [
    Bindings("tensorrt10", "tensorrt-cu12-bindings>=10,<11", "cuda-bindings>=12,<13"),
    Bindings("tensorrt11", "tensorrt-cu13-bindings>=11,<12", "cuda-bindings>=13,<14"),
    Bindings("tensorrt10-oldest-polygraphy", "tensorrt-cu12-bindings>=10,<11", "cuda-bindings>=12,<13",
             OLDEST_POLYGRAPHY),
    Bindings("tensorrt11-oldest-polygraphy", "tensorrt-cu13-bindings>=11,<12", "cuda-bindings>=13,<14",
             OLDEST_POLYGRAPHY),
]


@pytest.fixture(scope="module")
def graphs(tiny_onnx, tiny_dynamic, tiny_converted, tiny_calib, tmp_path_factory):
    """The tiny graphs the build checks plan from, made once here (the subprocess needs no torch export);
    dynamic-size and frame graphs are made with onnx.helper (tests/fakes/graphs.py)."""
    from fakes.graphs import dynamic_graph

    folder = tmp_path_factory.mktemp("sized")
    return {"fp32": str(tiny_onnx("test-N")), "dynamic": str(tiny_dynamic), "fp16": str(tiny_converted("fp16")),
            "calib": str(tiny_calib), "sized": str(dynamic_graph(folder / "sized.onnx", batch=None)),
            "frame": str(dynamic_graph(folder / "frame.onnx", io="frame"))}


@pytest.mark.timeout(420)  # measured 6-10 s; above the inner run's own 360 s limit, so that one reports
@pytest.mark.parametrize("bindings", SETS, ids=[b.name for b in SETS])
def test_our_code_meets_the_real_api(bindings, request, tmp_path):
    try:
        extra = bindings.environment()
    except Unavailable as exc:
        pytest.skip(str(exc))
    graphs = request.getfixturevalue("graphs")  # only once the bindings are here: exporting takes seconds
    report = tmp_path / "report.json"
    env = {**os.environ, **extra, "ZOE_CONTRACT_STANDIN": "1", "ZOE_CONTRACT_GRAPHS": json.dumps(graphs),
           "ZOE_CONTRACT_REPORT": str(report)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
                           str(tmp_path / "inner"), "tests/contract/standin"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=360)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{extra['ZOE_CONTRACT_VERSIONS']}: the contract failed\n{out[-12000:]}"
    checked = json.loads(report.read_text())
    print(f"{extra['ZOE_CONTRACT_VERSIONS']}: {checked}")
    assert checked["names"] > 50 and checked["fakes"] > 10  # the scan found our code, the fakes were compared
