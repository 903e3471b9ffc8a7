"""The reference models: ZoeD_N, ZoeD_K, ZoeD_NK in PyTorch, loading the official checkpoints."""
from ._architecture import ModelOptions, build_model
from ._builder import at_size, load_model
from ._pretrained import cache_dir, cached_checkpoint, guess_variant, random_state_dict, read_state_dict
from ._registry import (
    BeitConfig,
    BinsHeadConfig,
    CheckpointRef,
    DptConfig,
    Preprocessing,
    RouterConfig,
    Variant,
    get_variant,
    list_variants,
)

__all__ = [
    "BeitConfig", "BinsHeadConfig", "CheckpointRef", "DptConfig", "ModelOptions", "Preprocessing",
    "RouterConfig", "Variant", "at_size", "build_model", "cache_dir", "cached_checkpoint", "get_variant",
    "guess_variant", "list_variants", "load_model", "random_state_dict", "read_state_dict",
]
