"""The architecture as ARCHITECTURE.md draws it: layers that only point down, and no torch on ONNX-only paths."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "zoe_export"
#: bottom to top; a module may import its own layer and the ones below (shared helpers are below everything)
LAYERS = [
    {"", "errors", "_files", "_log", "_lazy", "_memory", "tensors", "sizes", "compare", "registry", "card", "io", "geometry", "preprocess"},
    {"models"},
    {"export"},
    {"calib"},
    {"precision"},
    {"trt", "openvino"},
    {"runtime"},
    {"predict"},
    {"bench"},
    {"doctor"},
    {"cli"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def _part(module: str) -> str:
    """``zoe_export.trt.build`` -> ``trt``; the package itself (``zoe_export.__init__``) -> ``""``."""
    parts = module.removesuffix(".__init__").split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_or_package(package: str, name: str) -> str:
    """``from package import name``: the submodule when ``name`` is one, else the package."""
    folder = PACKAGE.parent.joinpath(*package.split("."))
    is_module = (folder / f"{name}.py").exists() or (folder / name / "__init__.py").exists()
    return f"{package}.{name}" if is_module else package


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every zoe_export module ``path`` imports (at module level or inside functions), with its line."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("zoe_export"):
                found += [(_module_or_package(target, a.name), node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("zoe_export")]
    return found


def test_every_package_has_a_layer():
    parts = {p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert parts - {"__init__", "__main__"} <= set(LEVEL), f"place {sorted(parts - set(LEVEL))} in LAYERS and ARCHITECTURE.md"


def test_imports_only_point_down():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for target, line in _imports(path):
            if LEVEL[_part(target)] > LEVEL[source]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_architecture_md_names_every_layer():
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    missing = [name for names in LAYERS[1:] for name in names if f"{name}/" not in text]
    assert not missing, f"ARCHITECTURE.md does not describe {missing}"


def _modules_after(code: str) -> set[str]:
    """The top-level modules loaded after running ``code`` in a fresh interpreter."""
    script = (textwrap.dedent(code) + "\nimport sys\n"
              "print('MODULES', ' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stderr.rsplit("MODULES ", 1)[1].split())


@pytest.mark.parametrize("code", [
    "import zoe_export.runtime",
    "import zoe_export.trt.build, zoe_export.trt.cache",
    "import zoe_export.precision",
    "from zoe_export.cli.main import build_parser; build_parser()",
    "from zoe_export.cli.bench import build_parser; build_parser()",
])
def test_cheap_imports_load_no_torch(code):
    assert "torch" not in _modules_after(code)


def test_help_loads_neither_torch_nor_onnxruntime():
    loaded = _modules_after("""
        from zoe_export.cli.main import main
        try:
            main(["trt", "--help"])
        except SystemExit:
            pass
    """)
    assert not {"torch", "onnxruntime", "onnx"} & loaded


def test_onnx_only_paths_load_no_torch(tiny_converted, tiny_calib, tmp_path):
    """Reading a calibration set, a graph's card, a zoe-bench ONNX backend opened and run, zoe-bench --onnx itself."""
    graph = tiny_converted("fp16")
    loaded = _modules_after(f"""
        import numpy as np
        from zoe_export.bench.backends import onnx_spec, open_backend
        from zoe_export.calib import CalibrationSet
        from zoe_export.card import read_card
        from zoe_export.cli.bench import main

        assert len(CalibrationSet({str(tiny_calib)!r})) > 0
        assert read_card({str(graph)!r}).precision == "fp16"
        with open_backend(onnx_spec({str(graph)!r}, "cpu")) as engine:
            engine.predict(np.zeros((40, 50, 3), np.uint8))
        assert main(["--onnx", {str(graph)!r}, "--iters", "1", "--output", {str(tmp_path / "bench")!r}]) == 0
    """)
    assert "torch" not in loaded


def test_no_module_imports_itself_through_others():
    """No import cycles between modules (models/_builder <-> _pretrained and trt <-> runtime used to be)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        graph[module] = {target for target, _ in _imports(path) if target != module}
    cycles = []

    def visit(module, trail):
        for target in graph.get(module, ()):
            if target in trail:
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in done:
                done.add(target)
                visit(target, trail + [target])

    done = set()
    for module in sorted(graph):
        if module not in done:
            done.add(module)
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
