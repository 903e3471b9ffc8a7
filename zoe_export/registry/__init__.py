"""What exists: the backends that run a model and the precisions a graph can have.

Each is one registration (:mod:`.backends`, :mod:`.precisions`); every command, the benchmark,
parity and the conformance suite ask these registries instead of listing names themselves.
Entries name their implementation as ``"module:object"`` strings, imported on first use, so the
registries are cheap to import from any layer.
"""
from .backends import Backend, backend_for, get_backend, list_backends, register_backend
from .precisions import Precision, get_precision, list_precisions, register_precision

__all__ = ["Backend", "Precision", "backend_for", "get_backend", "get_precision", "list_backends", "list_precisions",
           "register_backend", "register_precision"]
