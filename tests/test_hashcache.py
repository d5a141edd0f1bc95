"""The checksum cache on disk: reused across runs while a file is unchanged, never trusted after a rewrite."""

from __future__ import annotations

import hashlib
import os

import pytest

from sinks import hashcache, manifest


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache directory, the in-process memo cleared, and a count of files hashed."""
    monkeypatch.setenv("SINKS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(manifest, "_HASHES", {})
    hashed: list[int] = []
    real = hashlib.sha256

    def counting(*a, **k):
        hashed.append(1)
        return real(*a, **k)

    monkeypatch.setattr(manifest.hashlib, "sha256", counting)
    return hashed


def _digest(path):
    return hashlib.new("sha256", path.read_bytes()).hexdigest()


def test_second_run_reads_the_digest_from_the_cache(tmp_path, fresh):
    f = tmp_path / "tile.tif"
    f.write_bytes(os.urandom(3_000_001))
    assert manifest.sha256_file(f) == _digest(f)
    assert len(fresh) == 1 and (tmp_path / "cache" / "checksums.sqlite").exists()
    manifest._HASHES.clear()  # a new process
    assert manifest.sha256_file(f) == _digest(f)
    assert len(fresh) == 1  # not hashed again


def test_rewritten_file_is_hashed_again_even_with_its_old_size_and_mtime(tmp_path, fresh):
    f = tmp_path / "tile.tif"
    f.write_bytes(b"a" * 1000)
    st = os.stat(f)
    first = manifest.sha256_file(f)
    f.write_bytes(b"b" * 1000)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and modification time
    manifest._HASHES.clear()
    second = manifest.sha256_file(f)
    assert second == _digest(f) != first
    assert len(fresh) == 2


def test_cache_off_writes_nothing(tmp_path, fresh, monkeypatch):
    monkeypatch.setenv("SINKS_CACHE_DIR", "off")
    assert hashcache.cache_path() is None
    f = tmp_path / "tile.tif"
    f.write_bytes(b"x" * 10)
    assert manifest.sha256_file(f) == _digest(f)
    assert not (tmp_path / "cache").exists()


def test_damaged_or_unwritable_cache_only_costs_the_hashing(tmp_path, fresh, monkeypatch):
    bad = tmp_path / "cache"
    bad.mkdir()
    (bad / "checksums.sqlite").write_bytes(b"not a database" * 100)
    f = tmp_path / "tile.tif"
    f.write_bytes(b"y" * 100)
    assert manifest.sha256_file(f) == _digest(f)
    monkeypatch.setenv("SINKS_CACHE_DIR", str(f / "below-a-file"))  # cannot be created
    manifest._HASHES.clear()
    assert manifest.sha256_file(f) == _digest(f)
