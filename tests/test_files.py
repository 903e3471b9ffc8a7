"""Atomic outputs: all or nothing, with the permissions any other file would get; output folders and probes."""
import os
import stat

import pytest

from zoe_export._files import (
    atomic_output,
    check_folder_writable,
    check_writable,
    file_sha256,
    folders_removed_on_failure,
    make_folder,
)
from zoe_export.errors import ZoeExportError


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


def test_an_output_that_is_a_folder_is_refused_not_written_into(tmp_path):
    (tmp_path / "out.bin").mkdir()
    with pytest.raises(ZoeExportError, match="is an existing folder"), atomic_output(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"data")
    assert not any((tmp_path / "out.bin").iterdir())


def test_folders_made_for_a_failed_output_are_taken_back_but_not_others(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), folders_removed_on_failure():
        make_folder(tmp_path / "kept" / "new" / "deeper")
        make_folder(tmp_path / "busy")
        (tmp_path / "busy" / "someone_elses.txt").write_text("x")  # not empty: stays
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "kept"] and not any((tmp_path / "kept").iterdir())
    with folders_removed_on_failure():
        make_folder(tmp_path / "made")
    assert (tmp_path / "made").is_dir()  # success keeps them


def test_the_writability_probe_touches_no_existing_file(tmp_path):
    (tmp_path / "out.onnx.probe").write_text("mine")
    check_writable(tmp_path / "out.onnx")
    check_folder_writable(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx.probe"]
    assert (tmp_path / "out.onnx.probe").read_text() == "mine"
    with pytest.raises(ZoeExportError, match="is a file, and this output is a folder"):
        check_folder_writable(tmp_path / "out.onnx.probe", "--output")
    with pytest.raises(ZoeExportError, match="cannot write in .*is a file, not a folder"):
        check_writable(tmp_path / "out.onnx.probe" / "x.onnx")


def test_file_sha256_is_the_sha256_of_the_bytes_across_chunks(tmp_path):
    import hashlib

    path = tmp_path / "data.bin"
    payload = os.urandom((1 << 20) + 7)  # more than one 1 MB chunk
    path.write_bytes(payload)
    assert file_sha256(path) == file_sha256(str(path)) == hashlib.sha256(payload).hexdigest()


def test_a_pending_file_keeps_the_suffix_and_appears_only_when_committed(tmp_path):
    from zoe_export._files import PendingFile

    pending = PendingFile(tmp_path / "v_depth.mp4", keep_suffix=True)
    assert pending.path.suffix == ".mp4" and pending.path.name.startswith(".v_depth.mp4.")
    pending.path.write_bytes(b"video")
    assert not (tmp_path / "v_depth.mp4").exists()
    assert pending.commit().read_bytes() == b"video" and sorted(p.name for p in tmp_path.iterdir()) == ["v_depth.mp4"]
    other = PendingFile(tmp_path / "w.mp4", keep_suffix=True)
    other.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v_depth.mp4"]
