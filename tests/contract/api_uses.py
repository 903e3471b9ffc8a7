"""Every use our source makes of TensorRT, cuda-python and Polygraphy, found by reading it (``ast``).

A use is an attribute of something that comes from one of those packages: ``trt.Runtime(logger)``,
``self._engine.get_tensor_name(i)``, ``config.progress_monitor = m``, ``rt.cudaMemcpyKind.X``,
``CreateConfig(fp16=...)``, or a method our class overrides on a TensorRT base class. Where a
value comes from is followed through the code, not listed by hand:

* imports (``import tensorrt as trt``, ``from polygraphy.backend.trt import CreateConfig``, also
  under ``if TYPE_CHECKING:``) and our two importers (``import_tensorrt()``, ``import_cudart()``);
* annotations, ``engine: trt.ICudaEngine`` (parameters and annotated assignments);
* assignments, to names and to ``self.<attr>`` anywhere in the class; calls and attributes along
  the way are kept as a path (``tensorrt.Runtime().deserialize_cuda_engine()``) that the checker
  resolves against the real module, with the real return types.

Each use records where it is (file, line, function), how it is used (load, store, call with its
argument count and keywords, base class, override) and the TensorRT major version its function is
guarded for (``@requires_tensorrt(10)``). Pure stdlib: the checker that reads the real API runs in
the contract subprocess (``real_api.py``).
"""
from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "zoe_export"

#: modules whose names we follow: import path -> root name used in paths
ROOTS = {"tensorrt": "tensorrt", "cuda.bindings.runtime": "cudart", "cuda.cudart": "cudart"}
POLYGRAPHY = "polygraphy"
#: our own functions that return one of those modules (their definitions are checked to exist)
IMPORTERS = {"import_tensorrt": "tensorrt", "import_cudart": "cudart"}
GUARD = "requires_tensorrt"


@dataclass(frozen=True)
class Ref:
    """A value's origin: a root module and a path of attribute names and calls ("()")."""

    root: str
    path: tuple[str, ...] = ()

    def __add__(self, step: str) -> Ref:
        return Ref(self.root, (*self.path, step))

    def text(self) -> str:
        return self.root + "".join(s if s == "()" else f".{s}" for s in self.path)


@dataclass
class Use:
    receiver: Ref  # what the attribute is looked up on
    attr: str
    how: str  # load | store | call | base | override
    file: str
    line: int
    function: str
    args: int = 0  # positional arguments of a call (of an override: its parameters, self excluded)
    keywords: tuple[str, ...] = ()
    starred: bool = False  # *args or **kwargs: the count is unknown
    major: int | None = None  # guarded by @requires_tensorrt(major)

    def where(self) -> str:
        return f"{self.file}:{self.line} ({self.function})"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["receiver"] = {"root": self.receiver.root, "path": list(self.receiver.path)}
        return data


@dataclass
class _Scope:
    names: dict[str, Ref] = field(default_factory=dict)
    parent: _Scope | None = None
    self_attrs: dict[str, Ref] | None = None  # the class's self.<attr> bindings, inside methods
    self_name: str | None = None

    def lookup(self, name: str) -> Ref | None:
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None


def scan(package: Path = PACKAGE) -> list[Use]:
    """All uses in the package's modules, with paths relative to the package's parent."""
    uses: list[Use] = []
    defined: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        defined |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        _Module(str(path.relative_to(package.parent)), uses).visit_module(tree)
    missing = set(IMPORTERS) - defined
    if missing:
        raise AssertionError(f"api_uses.IMPORTERS names functions our source no longer defines: {sorted(missing)}")
    return uses


def _import_root(module: str) -> Ref | None:
    if module in ROOTS:
        return Ref(ROOTS[module])
    if module == POLYGRAPHY or module.startswith(POLYGRAPHY + "."):
        return Ref(module)
    return None


class _Module:
    def __init__(self, file: str, uses: list[Use]):
        self.file, self.uses = file, uses
        self.class_attrs: dict[str, dict[str, Ref]] = {}  # self.<attr> bindings of this module's classes

    # -- scopes ---------------------------------------------------------------------------------------------
    def visit_module(self, tree: ast.Module) -> None:
        scope = _Scope()
        self._bind_imports(tree.body, scope, deep=True)
        self._body(tree.body, scope, "<module>", None)

    def _bind_imports(self, body: list[ast.stmt], scope: _Scope, deep: bool) -> None:
        nodes = ast.walk(ast.Module(body=body, type_ignores=[])) if deep else body
        for node in nodes:
            if deep and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # (ast.walk still descends; function-level imports are bound in their scope)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    ref = _import_root(alias.name)
                    if ref is not None:
                        scope.names[alias.asname or alias.name.split(".")[0]] = ref
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = _import_root(node.module)
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    ref = Ref(ROOTS[full]) if full in ROOTS else None if module is None else module + alias.name
                    if ref is not None:
                        scope.names[alias.asname or alias.name] = ref

    def _body(self, body: list[ast.stmt], scope: _Scope, function: str, major: int | None) -> None:
        for stmt in body:
            self._stmt(stmt, scope, function, major)

    def _stmt(self, stmt: ast.stmt, scope: _Scope, function: str, major: int | None) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._function(stmt, scope, function, major)
        elif isinstance(stmt, ast.ClassDef):
            self._class(stmt, scope, function, major)
        else:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._bind_imports([stmt], scope, deep=False)
            self._bind(stmt, scope)
            self._record(stmt, scope, function, major)
            for child in ast.iter_child_nodes(stmt):  # bodies of if / with / for / try
                if isinstance(child, ast.stmt):
                    self._stmt(child, scope, function, major)
            for handler in getattr(stmt, "handlers", ()):
                self._body(handler.body, scope, function, major)

    def _function(self, node, scope: _Scope, outer: str, major: int | None) -> None:
        major = _guard(node) or major
        inner = _Scope(parent=scope, self_attrs=scope.self_attrs, self_name=None)
        params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        if scope.self_attrs is not None and params and not _is_static(node):
            inner.self_name = params[0].arg
        for arg in params:
            ref = self._annotation(arg.annotation, scope)
            if ref is not None:
                inner.names[arg.arg] = ref
        name = node.name if outer == "<module>" else f"{outer}.{node.name}"
        self._record_decorators(node, scope, name, major)
        self._body(node.body, inner, name, major)

    def _class(self, node: ast.ClassDef, scope: _Scope, outer: str, major: int | None) -> None:
        major = _guard(node) or major
        name = node.name if outer == "<module>" else f"{outer}.{node.name}"
        bases = []
        for base in node.bases:
            ref = self._ref(base, scope)
            if ref is not None and ref.path:
                bases.append(ref)
                self._add(Ref(ref.root, ref.path[:-1]), ref.path[-1], "base", base, name, major)
        inherited = {}
        for base in node.bases:  # self.<attr> set by a base class of this module
            if isinstance(base, ast.Name):
                inherited.update(self.class_attrs.get(base.id, {}))
        attrs = self._self_attributes(node, scope, inherited)
        self.class_attrs[node.name] = attrs
        class_scope = _Scope(parent=scope, self_attrs=attrs)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for base in bases:
                    if not stmt.name.startswith("_"):
                        params = [a for a in (*stmt.args.posonlyargs, *stmt.args.args)][1:]
                        self._add(base + "()", stmt.name, "override", stmt, f"{name}.{stmt.name}", _guard(stmt) or major,
                                  args=len(params), starred=bool(stmt.args.vararg or stmt.args.kwarg))
                self._function(stmt, class_scope, name, major)
            else:
                self._stmt(stmt, class_scope, name, major)

    def _self_attributes(self, node: ast.ClassDef, scope: _Scope, inherited: dict[str, Ref]) -> dict[str, Ref]:
        """``self.<attr> = <expr>`` in any method, resolved in that method's scope (two passes for chains)."""
        attrs: dict[str, Ref] = dict(inherited)
        for _ in range(2):
            for method in node.body:
                if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) or not method.args.args:
                    continue
                inner = _Scope(parent=scope, self_attrs=attrs, self_name=method.args.args[0].arg)
                for arg in [*method.args.args, *method.args.kwonlyargs]:
                    ref = self._annotation(arg.annotation, scope)
                    if ref is not None:
                        inner.names[arg.arg] = ref
                for stmt in ast.walk(method):
                    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)):
                        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                            self._bind_imports([stmt], inner, deep=False)
                        self._bind(stmt, inner)
        return attrs

    # -- bindings -------------------------------------------------------------------------------------------
    def _bind(self, stmt: ast.stmt, scope: _Scope) -> None:
        if isinstance(stmt, ast.AnnAssign):
            ref = self._annotation(stmt.annotation, scope) or (self._ref(stmt.value, scope) if stmt.value else None)
            targets = [stmt.target]
        elif isinstance(stmt, ast.Assign):
            ref, targets = self._ref(stmt.value, scope), stmt.targets
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self._bind_target(item.optional_vars, None, scope)
            return
        else:
            return
        for target in targets:
            self._bind_target(target, ref, scope)

    def _bind_target(self, target: ast.expr, ref: Ref | None, scope: _Scope) -> None:
        if isinstance(target, ast.Name):
            if ref is not None:
                scope.names[target.id] = ref
            else:
                scope.names.pop(target.id, None)  # rebound to something else: forget it here
        elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
              and target.value.id == scope_self(scope) and scope.self_attrs is not None and ref is not None):
            scope.self_attrs[target.attr] = ref

    def _annotation(self, annotation: ast.expr | None, scope: _Scope) -> Ref | None:
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):  # X | None
            return self._annotation(annotation.left, scope) or self._annotation(annotation.right, scope)
        ref = self._ref(annotation, scope)
        if ref is None or not ref.path:
            return ref  # `rt: cudart`: the module itself
        return ref + "()"  # an instance of the named class

    def _ref(self, expr: ast.expr, scope: _Scope) -> Ref | None:
        if isinstance(expr, ast.Name):
            return scope.lookup(expr.id)
        if isinstance(expr, ast.Attribute):
            if isinstance(expr.value, ast.Name) and expr.value.id == scope_self(scope) and scope.self_attrs is not None:
                return scope.self_attrs.get(expr.attr)
            base = self._ref(expr.value, scope)
            return None if base is None else base + expr.attr
        if isinstance(expr, ast.Call):
            func = expr.func
            importer = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if importer in IMPORTERS:
                return Ref(IMPORTERS[importer])
            base = self._ref(func, scope)
            return None if base is None else base + "()"
        return None

    # -- uses -------------------------------------------------------------------------------------------------
    def _record_decorators(self, node, scope: _Scope, function: str, major: int | None) -> None:
        for decorator in node.decorator_list:
            self._record(decorator, scope, function, major)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self._record(default, scope, function, major)

    def _record(self, root: ast.AST, scope: _Scope, function: str, major: int | None) -> None:
        """Every attribute of a followed value, and every call of a followed name, in ``root`` (not nested defs)."""
        calls = {id(n.func): n for n in _walk(root) if isinstance(n, ast.Call)}
        for node in _walk(root):
            if isinstance(node, ast.Attribute):
                receiver = self._ref(node.value, scope)
                if receiver is None:
                    continue
                call = calls.get(id(node))
                if call is not None:
                    self._add_call(receiver, node.attr, call, function, major)
                else:
                    how = "store" if isinstance(node.ctx, ast.Store) else "load"
                    self._add(receiver, node.attr, how, node, function, major)
            elif isinstance(node, ast.Name) and id(node) in calls:
                ref = scope.lookup(node.id)
                if ref is not None and ref.path:  # a name imported from a followed module, called
                    self._add_call(Ref(ref.root, ref.path[:-1]), ref.path[-1], calls[id(node)], function, major)

    def _add_call(self, receiver: Ref, attr: str, call: ast.Call, function: str, major: int | None) -> None:
        starred = any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)
        self._add(receiver, attr, "call", call, function, major, args=len(call.args),
                  keywords=tuple(k.arg for k in call.keywords if k.arg), starred=starred)

    def _add(self, receiver: Ref, attr: str, how: str, node: ast.AST, function: str, major: int | None,
             **details) -> None:
        self.uses.append(Use(receiver, attr, how, self.file, node.lineno, function, major=major, **details))


def scope_self(scope: _Scope) -> str | None:
    while scope is not None:
        if scope.self_name:
            return scope.self_name
        scope = scope.parent
    return None


def _walk(root: ast.AST):
    """ast.walk that does not enter nested functions or classes (their scopes are visited on their own)."""
    todo = [root]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) and child is not root:
                if isinstance(child, ast.Lambda):
                    todo.append(child.body)  # a lambda's body reads the enclosing scope
                continue
            if isinstance(child, ast.stmt) and child is not root and not isinstance(root, ast.expr):
                continue  # statements are visited by _stmt, each in turn
            todo.append(child)


def _guard(node) -> int | None:
    for decorator in getattr(node, "decorator_list", ()):
        if (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", getattr(decorator.func, "attr", None)) == GUARD
                and decorator.args and isinstance(decorator.args[0], ast.Constant)):
            return int(decorator.args[0].value)
    return None


def _is_static(node) -> bool:
    return any(getattr(d, "id", None) in ("staticmethod", "classmethod") for d in node.decorator_list)
