"""Shared fixtures. Tests that need ../shared/reference (CI has it beside its clone) skip without it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from helpers import REFERENCE, SKIP_REASON


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never read or write the user's checkpoint cache."""
    monkeypatch.setenv("ZOE_EXPORT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(SKIP_REASON)
    return REFERENCE


@pytest.fixture(scope="session")
def zoe_weights(reference_dir):
    """The reference's test-data helper: official-layout state dicts from a key list and a seed."""
    spec = importlib.util.spec_from_file_location("zoe_weights", reference_dir / "golden" / "zoe_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def official_state_dict(zoe_weights, reference_dir):
    """official_state_dict("M12-K", seed=3, head_gain=2): seeded weights in the official key layout."""

    def make(variant: str, **kwargs):
        return zoe_weights.make_state_dict(str(reference_dir / f"official_keys_{variant}.txt"), **kwargs)

    return make
