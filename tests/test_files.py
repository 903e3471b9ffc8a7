"""Atomic outputs: all or nothing, with the permissions any other file would get."""
import os
import stat

import pytest

from zoe_export._files import atomic_output


def test_outputs_appear_whole_with_the_usual_permissions(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"data")
        assert not target.exists()
    mask = os.umask(0)
    os.umask(mask)
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert not any(tmp_path.iterdir())
