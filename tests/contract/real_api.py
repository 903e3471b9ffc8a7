"""Resolve and check uses (``api_uses.Use``) and fakes against the real, imported modules.

Runs where the real ``tensorrt`` (the wheel's bindings over stand-in libraries), cuda-python and
Polygraphy import. What a TensorRT method accepts and returns is read from its pybind11 docstring
(``name(self: X, a: T, b: U = ...) -> R``, overloads numbered); cuda-python's Cython functions and
Polygraphy's Python have real signatures.
"""
from __future__ import annotations

import difflib
import enum
import importlib
import inspect
import re
from dataclasses import dataclass

MISSING = object()
_DOC_SIGNATURE = re.compile(r"^(?:\d+\. )?(\w+)\((.*)\)(?: -> (.+))?$")


def module(root: str):
    if root == "tensorrt":
        return importlib.import_module("tensorrt")
    if root == "cudart":
        try:
            return importlib.import_module("cuda.bindings.runtime")
        except ImportError:
            return importlib.import_module("cuda.cudart")
    return importlib.import_module(root)


@dataclass(frozen=True)
class Instance:
    """An instance of ``cls`` (we never make one: the real constructors need the real libraries)."""

    cls: type

    def __str__(self) -> str:
        return f"{_name(self.cls)} instance"


def _name(obj) -> str:
    if isinstance(obj, type):
        module_name = getattr(obj, "__module__", "")
        return obj.__qualname__ if module_name.startswith(("tensorrt", "cuda")) else f"{module_name}.{obj.__qualname__}"
    return getattr(obj, "__name__", repr(obj))


# -- reading the real API ---------------------------------------------------------------------------------------
def get(owner, attr: str):
    """``attr`` of a module, class or :class:`Instance` (looked up on its class), or MISSING."""
    target = owner.cls if isinstance(owner, Instance) else owner
    value = getattr(target, attr, MISSING)
    if value is MISSING and inspect.ismodule(target):
        try:
            value = importlib.import_module(f"{target.__name__}.{attr}")
        except ImportError:
            pass
    return value


def kind(value) -> str:
    if value is MISSING:
        return "missing"
    if isinstance(value, type):
        return "class"
    if inspect.isdatadescriptor(value):  # property, pybind11 property, Cython getset
        return "property"
    if _is_enum_member(value):
        return "enum member"
    if inspect.ismodule(value):
        return "module"
    if callable(value):
        return "method"
    return "value"


def _is_enum_member(value) -> bool:
    cls = type(value)
    return isinstance(value, enum.Enum) or hasattr(cls, "__members__") and value in cls.__members__.values()


def signatures(value) -> list[inspect.Signature] | None:
    """The accepted signatures (with ``self`` for methods of classes), or None when unknown."""
    if isinstance(value, type):
        init = value.__dict__.get("__init__") or getattr(value, "__init__", None)
        if _is_pybind(value):
            return _doc_signatures(init)
        try:
            return [inspect.signature(value)]  # Python classes: without self
        except (TypeError, ValueError):
            return None
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return _doc_signatures(value)
    if _generic(signature):
        return _doc_signatures(value) or None
    return [signature]


def takes_self(value) -> bool:
    """Whether :func:`signatures` of ``value`` list ``self`` first (pybind11 methods and __init__ do)."""
    if isinstance(value, type):
        return _is_pybind(value)
    return True


def _is_pybind(cls: type) -> bool:
    return any("pybind11" in type(k).__name__ or "pybind11" in getattr(type(k), "__module__", "") for k in cls.__mro__)


def _generic(signature: inspect.Signature) -> bool:
    kinds = [p.kind for p in signature.parameters.values()]
    return kinds == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]


def _doc_signatures(fn) -> list[inspect.Signature]:
    found = []
    for line in (getattr(fn, "__doc__", None) or "").splitlines():
        match = _DOC_SIGNATURE.match(line.strip())
        if not match or match.group(2) == "*args, **kwargs":
            continue
        params = []
        for text in _split(match.group(2)):
            name, _, rest = text.partition(":")
            name = name.strip().lstrip("*")
            default = inspect.Parameter.empty
            if _has_default(rest if rest else name):
                default = None
                name = name.split("=")[0].strip()
            if name:
                params.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
        try:
            found.append(inspect.Signature(params))
        except ValueError:  # a default before a required one: treat all as given
            found.append(inspect.Signature([p.replace(default=inspect.Parameter.empty) for p in params]))
    return found


def doc_returns(fn) -> list[str]:
    """The return types a pybind11 docstring names, one per overload ("tensorrt_bindings.tensorrt.ICudaEngine")."""
    found = []
    for line in (getattr(fn, "__doc__", None) or "").splitlines():
        match = _DOC_SIGNATURE.match(line.strip())
        if match and match.group(3):
            found.append(match.group(3).strip())
    return found


def return_class(fn, tensorrt):
    """The TensorRT class a pybind11 method returns (from its docstring), else None."""
    for returned in doc_returns(fn):
        value = getattr(tensorrt, returned.rsplit(".", 1)[-1], None) if tensorrt is not None else None
        if isinstance(value, type):
            return value
    return None


def _split(text: str, separator: str = ",") -> list[str]:
    """``text`` cut at ``separator`` outside brackets (types like ``list[Dims]``, defaults like ``<DataType.FLOAT: 0>``)."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[(<{":
            depth += 1
        elif char in "])>}":
            depth -= 1
        if char == separator and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _has_default(text: str) -> bool:
    return len(_split(text, "=")) > 1


def accepts(value, args: int, keywords: tuple[str, ...], with_self: bool) -> tuple[bool, str]:
    """Whether some real signature of ``value`` takes ``args`` positional and these keyword arguments."""
    if isinstance(value, type) and not _is_pybind(value):
        return _python_class_accepts(value, args, keywords)
    sigs = signatures(value)
    if not sigs:
        return True, "signature unknown"
    dummy_self = 1 if with_self and takes_self(value) else 0
    for sig in sigs:
        try:
            sig.bind(*([None] * (args + dummy_self)), **{k: None for k in keywords})
            return True, str(sig)
        except TypeError:
            continue
    return False, " or ".join(str(s) for s in sigs)


def _python_class_accepts(cls: type, args: int, keywords: tuple[str, ...]) -> tuple[bool, str]:
    """A Python class whose ``__init__`` passes ``**kwargs`` on to its bases: the keywords any of them name."""
    first = inspect.signature(cls)
    try:
        first.bind(*([None] * args))
    except TypeError:
        return False, str(first)
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            unknown = sorted(set(keywords) - names)
            return not unknown, f"{first} (keywords it and its bases name: none of {unknown})" if unknown else str(first)
    return True, str(first)  # **kwargs all the way up: anything goes


def arity(value, method: bool = True) -> list[tuple[int, int]]:
    """(fewest, most) arguments besides self of every real signature (``method=False``: a module's function)."""
    drop = 1 if (takes_self(value) if isinstance(value, type) else method) else 0
    ranges = []
    for sig in signatures(value) or []:
        params = list(sig.parameters.values())
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            continue
        required = [p for p in params if p.default is inspect.Parameter.empty]
        ranges.append((len(required) - drop, len(params) - drop))
    return ranges


def close_names(owner, attr: str) -> str:
    target = owner.cls if isinstance(owner, Instance) else owner
    names = [n for n in dir(target) if not n.startswith("_")]
    near = difflib.get_close_matches(attr, names, n=4, cutoff=0.5)
    return f"; near: {', '.join(near)}" if near else ""


# -- following a path --------------------------------------------------------------------------------------------
def follow(root: str, path: tuple[str, ...]):
    """The object a path leads to (a module, class, :class:`Instance`, function) or raise LookupError."""
    tensorrt = _tensorrt_or_none()
    obj = module(root)
    for step in path:
        obj = _step(obj, step, tensorrt)
    return obj


def _step(obj, step: str, tensorrt):
    if step == "()":
        if isinstance(obj, type):
            return Instance(obj)
        if isinstance(obj, _Method):
            cls = return_class(obj.value, tensorrt)
            if cls is None:
                raise LookupError(f"cannot follow the result of {obj.name}: its return type is not a TensorRT class")
            return Instance(cls)
        raise LookupError(f"cannot follow the result of calling {_name(obj)}")
    value = get(obj, step)
    if value is MISSING:
        raise LookupError(f"{obj} has no {step!r}")
    if isinstance(obj, Instance) and kind(value) == "method":
        return _Method(value, f"{_name(obj.cls)}.{step}")
    if callable(value) and not isinstance(value, type) and not inspect.ismodule(value):
        return _Method(value, step)
    return value


@dataclass(frozen=True)
class _Method:
    value: object
    name: str


def _tensorrt_or_none():
    try:
        return importlib.import_module("tensorrt")
    except ImportError:
        return None


# -- checking a use ---------------------------------------------------------------------------------------------
def check_use(use) -> str | None:
    """None when the real API has what ``use`` needs, else what is wrong (one line)."""
    receiver = follow(use.receiver.root, tuple(use.receiver.path))
    if isinstance(receiver, _Method):
        raise LookupError(f"{receiver.name} is a method; cannot look up {use.attr!r} on it")
    value = get(receiver, use.attr)
    what = f"{receiver}.{use.attr}" if isinstance(receiver, Instance) else f"{_name(receiver)}.{use.attr}"
    found = kind(value)
    if value is MISSING:
        return f"{what} does not exist{close_names(receiver, use.attr)}"
    on_instance = isinstance(receiver, Instance)
    if use.how == "call":
        if found == "property":
            return f"{what} is a property; our code calls it"
        if not callable(value):
            return f"{what} is a {found}, not callable; our code calls it"
        # a method of an instance, or a class's constructor, takes self before our arguments; a function of a
        # module, or Base.method(self, ...) called on the class, takes exactly what we pass
        ok, real = accepts(value, use.args, tuple(use.keywords), with_self=on_instance or isinstance(value, type))
        if not ok and not use.starred:
            given = f"{use.args} positional" + (f" and {', '.join(use.keywords)}=" if use.keywords else "")
            return f"{what} takes {real}; our code passes {given}"
        return None
    if use.how == "store":
        if not on_instance or not isinstance(value, property) or value.fset is None:
            return f"{what} is a {'read-only ' if isinstance(value, property) else ''}{found}; our code assigns to it"
        return None
    if use.how == "load":
        if on_instance and found == "method":
            return f"{what} is a method; our code reads it as a property (missing ())"
        return None
    if use.how == "base":
        return None if found == "class" else f"{what} is a {found}; our code derives a class from it"
    if use.how == "override":
        if found != "method":
            return f"{what} is a {found}; our subclass overrides it as a method"
        ranges = arity(value)
        if ranges and not any(low <= use.args <= high for low, high in ranges) and not use.starred:
            return f"{what} takes {_ranges(ranges)} argument(s) besides self; our override takes {use.args}"
        return None
    raise ValueError(use.how)


# -- checking a fake -----------------------------------------------------------------------------------------------
#: protocol methods code relies on without naming them (len(), indexing, iteration, int(), with)
PROTOCOL = ("__len__", "__getitem__", "__setitem__", "__iter__", "__int__", "__index__", "__enter__", "__exit__")
_FAKE_META = {"REAL", "REAL_MAJOR", "FAKE_ONLY"}


def real_of(fake) -> object:
    root, *path = fake.REAL.split(".")
    obj = module(root)
    for step in path:
        obj = getattr(obj, step)
    return obj


def fake_members(fake: type) -> dict[str, object]:
    """What a fake class defines for our code (own and inherited from other fakes), knobs and privates left out."""
    skip = set(_FAKE_META)
    members: dict[str, object] = {}
    for klass in reversed(fake.__mro__):
        if klass.__module__ in ("builtins", "enum", "ctypes", "_ctypes"):
            continue
        skip |= set(klass.__dict__.get("FAKE_ONLY", ()))
        for name in klass.__dict__.get("__annotations__", {}):
            members[name] = property()  # a data attribute: a property on the real class
        for name, value in klass.__dict__.items():
            if not name.startswith("_") or name in PROTOCOL:
                members[name] = value
    return {name: value for name, value in members.items() if name not in skip}


def check_fake(fake: type) -> list[str]:
    """What in ``fake`` the real API does not have, or has with another kind, arity, value or return type."""
    real = real_of(fake)
    label = f"fake {fake.__module__}.{fake.__qualname__} (real {fake.REAL})"
    if isinstance(fake, type) and issubclass(fake, enum.Enum):
        return [f"{label}: {problem}" for problem in _enum_problems(fake, real)]
    problems = []
    is_module = inspect.ismodule(real)
    members = fake_members(fake)
    for name, value in members.items():
        real_value = get(real, name)
        if real_value is MISSING:
            problems.append(f"{label}: {name} does not exist in the real API{close_names(real, name)}")
            continue
        problem = _member_problem(name, value, real_value, is_module)
        if problem:
            problems.append(f"{label}: {problem}")
    if not is_module:
        for name in PROTOCOL:  # len(), indexing, int() on a fake must work on the real one too
            if name in members and not _defines(real, name):
                problems.append(f"{label}: the real class has no {name}; the fake must not have it either")
    return problems


def _defines(cls: type, name: str) -> bool:
    return any(name in k.__dict__ for k in cls.__mro__ if k is not object and "pybind11_object" not in k.__name__)


def _enum_problems(fake: type, real) -> list[str]:
    problems = []
    members = getattr(real, "__members__", {})
    for member in fake:
        if member.name not in members:
            problems.append(f"member {member.name} does not exist in the real enum{close_names(real, member.name)}")
        elif int(members[member.name]) != int(member.value):
            problems.append(f"member {member.name} is {int(members[member.name])} in the real enum, {member.value} here")
    return problems


def _member_problem(name: str, value, real_value, on_module: bool) -> str | None:
    real_kind = kind(real_value)
    if isinstance(value, property) or (not callable(value) and not isinstance(value, (type, staticmethod))
                                       and not on_module):
        fake_kind = "property"
    elif isinstance(value, type):
        fake_kind = "enum" if issubclass(value, enum.Enum) else "class"
    elif callable(value):
        fake_kind = "method"
    else:
        fake_kind = "value"
    if fake_kind == "method" and real_kind == "class" and on_module:  # a module fake's factory for a real class
        return _arity_problem(name, value, real_value, method=False)
    if fake_kind == "enum":
        fake_kind = "class"
    if fake_kind == "value" and real_kind in ("value", "enum member"):
        return None if real_value == value else f"{name} is {real_value!r} in the real API, {value!r} here"
    if fake_kind != real_kind:
        return f"{name} is a {real_kind} in the real API, a {fake_kind} here"
    if fake_kind == "method" and name not in PROTOCOL:
        return _arity_problem(name, value, real_value, method=not on_module) or _return_problem(name, value, real_value)
    return None


def _arity_problem(name: str, fake_fn, real_value, method: bool) -> str | None:
    """The fake must take as many arguments as some real signature can (its callers pass what the real one takes)."""
    params = list(inspect.signature(fake_fn).parameters.values())[1:]  # self
    count = len([p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)])
    ranges = arity(real_value, method=method)
    if ranges and not any(low <= count <= high for low, high in ranges):
        return f"{name} takes {_ranges(ranges)} argument(s) in the real API (self excluded), {count} here"
    return None


def _ranges(ranges: list[tuple[int, int]]) -> str:
    return " or ".join(str(low) if low == high else f"{low} to {high}" for low, high in sorted(set(ranges)))


def _return_problem(name: str, fake_fn, real_value) -> str | None:
    annotation = inspect.signature(fake_fn).return_annotation
    if annotation is inspect.Signature.empty:
        return None
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    fake_type = _normalise(text, fake_fn.__globals__)
    real_types = {_normalise(returned, {}) for returned in doc_returns(real_value)}
    if not real_types or fake_type in real_types:
        return None
    return f"{name} returns {' or '.join(sorted(real_types))} in the real API, {fake_type} here"


def _normalise(text: str, fake_globals: dict) -> str:
    """"list[tensorrt_bindings.tensorrt.Dims]" and "list[Dims]" both -> "list[Dims]"; fakes -> their real names."""
    def name(match):
        word = match.group(0).rsplit(".", 1)[-1]
        fake = fake_globals.get(word)
        return fake.REAL.rsplit(".", 1)[-1] if isinstance(fake, type) and hasattr(fake, "REAL") else word
    return re.sub(r"[A-Za-z_][\w.]*", name, text.replace("typing.", "").replace(" ", ""))


def failed_call_length(fn, rt) -> int:
    """How many values a real cuda-python function returns when it fails (no driver here: every call fails)."""
    args = []
    for param in inspect.signature(fn).parameters.values():
        if param.name == "kind":
            args.append(rt.cudaMemcpyKind.cudaMemcpyHostToDevice)
        elif param.name == "mode":
            args.append(rt.cudaStreamCaptureMode.cudaStreamCaptureModeGlobal)
        elif param.name == "error":
            args.append(rt.cudaError_t.cudaErrorInvalidValue)
        else:
            args.append(0)
    result = fn(*args)
    return len(result) if isinstance(result, tuple) else 1


def tensorrt_major() -> int:
    from packaging.version import Version

    return Version(module("tensorrt").__version__).major
