"""The bundle is content-addressed, written atomically and refuses tampering, naming the file."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from model.release.bundle import BundleError, latest_bundle, verify_bundle, write_bundle

FILES = {"model.tflite": b"\x00model", "tokenizer.json": b"{}", "golden.json": b'{"requests": []}'}


def test_id_is_the_sha256_of_a_sha256sum_manifest(tmp_path: Path):
    info = write_bundle(FILES, tmp_path)
    manifest = (info.path / "MANIFEST").read_text()
    # Worked out by hand: one "<sha256>  <name>" line per file, sorted by name.
    expected = "".join(f"{hashlib.sha256(FILES[n]).hexdigest()}  {n}\n" for n in sorted(FILES))
    assert manifest == expected
    assert info.bundle_id == hashlib.sha256(expected.encode()).hexdigest()
    assert info.path == tmp_path / info.bundle_id
    assert info.version == info.bundle_id[:12]
    # Stock tools agree.
    subprocess.run(["sha256sum", "--check", "--quiet", "MANIFEST"], cwd=info.path, check=True)


def test_same_content_same_id_and_rewrite_is_a_noop(tmp_path: Path):
    a = write_bundle(FILES, tmp_path)
    b = write_bundle(FILES, tmp_path)
    c = write_bundle({**FILES, "tokenizer.json": b'{"buckets": 2}'}, tmp_path)
    assert a.bundle_id == b.bundle_id != c.bundle_id
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([a.bundle_id, c.bundle_id])


def test_tampered_file_is_named(tmp_path: Path):
    info = write_bundle(FILES, tmp_path)
    (info.path / "model.tflite").write_bytes(b"\x00evil")
    with pytest.raises(BundleError, match=r"model\.tflite: sha256 does not match"):
        verify_bundle(info.path)


def test_missing_file_is_named(tmp_path: Path):
    info = write_bundle(FILES, tmp_path)
    (info.path / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match=r"tokenizer\.json: listed in MANIFEST but missing"):
        verify_bundle(info.path)


def test_unlisted_file_is_refused(tmp_path: Path):
    info = write_bundle(FILES, tmp_path)
    (info.path / "extra.py").write_text("import os")
    with pytest.raises(BundleError, match=r"extra\.py: present but not listed"):
        verify_bundle(info.path)


def test_required_files_and_manifest(tmp_path: Path):
    with pytest.raises(BundleError, match=r"does not list required file golden\.json"):
        write_bundle({"model.tflite": b"m", "tokenizer.json": b"{}"}, tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BundleError, match="MANIFEST: missing"):
        verify_bundle(tmp_path)


def test_interrupted_write_leaves_no_bundle(tmp_path: Path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(FileNotFoundError):
        write_bundle({**FILES, "weights.bin": missing}, tmp_path / "root")
    assert list((tmp_path / "root").iterdir()) == []


def test_bad_names_are_refused(tmp_path: Path):
    with pytest.raises(BundleError, match=r"\.\./x: not a valid bundle file name"):
        write_bundle({**FILES, "../x": b""}, tmp_path)


def test_latest_bundle(tmp_path: Path):
    with pytest.raises(BundleError, match="no bundle found"):
        latest_bundle(tmp_path)
    write_bundle(FILES, tmp_path)
    newest = write_bundle({**FILES, "tokenizer.json": b"[]"}, tmp_path)
    assert latest_bundle(tmp_path) == newest.path
