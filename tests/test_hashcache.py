"""The checksum cache on disk: reused across runs while a file is unchanged, never trusted after a rewrite."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from sinks import manifest
from sinks.runtime import hashcache


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


def test_blake3_is_the_default_and_cached_apart_from_sha256(tmp_path, fresh):
    from blake3 import blake3

    f = tmp_path / "tile.tif"
    f.write_bytes(os.urandom(5_000_003))  # several chunks: the multi-threaded path
    b3 = manifest.file_digest(f)
    assert b3 == blake3(f.read_bytes()).hexdigest()
    assert manifest.sha256_file(f) == _digest(f) != b3
    assert len(fresh) == 1  # SHA-256 hashed once, for its own call
    manifest._HASHES.clear()  # a new process: both digests come from the cache, each under its algorithm
    assert manifest.file_digest(f) == b3 and manifest.sha256_file(f) == _digest(f)
    assert len(fresh) == 1


def test_describe_inputs_names_the_algorithm_and_never_reads_remote_inputs(tmp_path, fresh, monkeypatch):
    import urllib.request

    f = tmp_path / "a.tif"
    f.write_bytes(b"z" * 1234)
    heads = []

    class Head:
        headers = {"Content-Length": "987", "ETag": '"abc"', "Last-Modified": "Tue, 01 Dec 2026 00:00:00 GMT"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(req, timeout):
        heads.append((req.get_method(), req.full_url))
        return Head()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    got = manifest.describe_inputs([f, "/vsicurl/https://example.invalid/b.tif", "/vsis3/bucket/c.tif"],
                                   algorithm="sha256")
    by = {g["path"]: g for g in got}
    assert by[str(f)] == {"path": str(f), "bytes": 1234, "sha256": _digest(f)}
    assert by["/vsicurl/https://example.invalid/b.tif"] == {
        "path": "/vsicurl/https://example.invalid/b.tif", "remote": True, "bytes": 987, "etag": '"abc"',
        "modified": "Tue, 01 Dec 2026 00:00:00 GMT"}
    assert heads == [("HEAD", "https://example.invalid/b.tif")]  # one HEAD request, no download
    assert by["/vsis3/bucket/c.tif"]["remote"] and "bytes" not in by["/vsis3/bucket/c.tif"]


@pytest.mark.parametrize("algorithm", ["blake3", "sha256"])
@pytest.mark.parametrize("size", [0, 1, 5_000_003])
def test_mapped_and_read_digests_equal_the_reference(tmp_path, fresh, monkeypatch, algorithm, size):
    """The memory-mapped digest (in steps smaller than the file) and the read fallback
    both give the digest of the whole content, an empty file included."""
    from blake3 import blake3

    f = tmp_path / "tile.bin"
    f.write_bytes(os.urandom(size))
    data = f.read_bytes()
    want = blake3(data).hexdigest() if algorithm == "blake3" else hashlib.sha256(data).hexdigest()
    monkeypatch.setenv("SINKS_CACHE_DIR", "off")
    monkeypatch.setattr(manifest, "_MAP_STEP", 1 << 20)  # several windows, the last one short
    assert manifest.file_digest(f, algorithm=algorithm, bufsize=1 << 16) == want
    manifest._HASHES.clear()

    def no_map(*a, **k):
        raise OSError("mmap refused")

    monkeypatch.setattr(manifest.mmap, "mmap", no_map)
    assert manifest.file_digest(f, algorithm=algorithm, bufsize=1 << 16) == want


def test_exit_while_hashing_in_background_keeps_the_exit_status(tmp_path):
    """A run that stops (exit 2) while its inputs are still being hashed in the background
    exits with its own status: the hashing stops at its next mapped window before the
    interpreter is torn down (a window unmapped under BLAKE3's threads would segfault)."""
    import subprocess
    import sys
    import time

    big = tmp_path / "tile.tif"
    with open(big, "wb") as fh:
        fh.truncate(1 << 30)  # sparse: 1 GiB of zeros
    code = ("import sys, time; import sinks.manifest as m; m._MAP_STEP = 1 << 20; "
            f"t = m.hash_in_background([{str(big)!r}] * 1); time.sleep(0.05); "
            "assert t.is_alive(); sys.exit(2)")
    t0 = time.monotonic()
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "SINKS_CACHE_DIR": "off"})
        assert done.returncode == 2, done.stderr
    assert time.monotonic() - t0 < 60


def test_paced_hashing_waits_for_each_group(tmp_path, monkeypatch):
    """Inputs outside the paced groups are hashed at once; group k only once released
    (its epoch's pass has started); join() releases whatever is left."""
    import threading
    import time

    from sinks import manifest as m

    files = []
    for name in ("spec.yaml", "a1.tif", "a2.tif", "b1.tif"):
        p = tmp_path / name
        p.write_bytes(name.encode())
        files.append(str(p))
    done: list[str] = []
    hashed = threading.Event()
    monkeypatch.setattr(m, "file_digest", lambda p, algorithm, **kw: done.append(os.path.basename(p)) or hashed.set())
    t = m.hash_in_background(files, algorithm="blake3", paced=[[files[1], files[2]], [files[3], files[1]]])
    assert hashed.wait(5)
    time.sleep(0.2)
    assert done == ["spec.yaml"]
    t.release(1)
    for _ in range(100):
        if len(done) == 3:
            break
        time.sleep(0.02)
    time.sleep(0.2)
    assert done == ["spec.yaml", "a1.tif", "a2.tif"]  # b1 waits; a1 is not hashed twice
    t.join(5)
    assert not t.is_alive() and done == ["spec.yaml", "a1.tif", "a2.tif", "b1.tif"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_background_hashing_takes_idle_cpu_and_join_hashes_the_rest(tmp_path, monkeypatch):
    """The hashing thread lowers its own priority to the lowest (the process's other threads
    keep theirs) and hashes on one thread; join() hashes what is left on the calling
    thread too, with BLAKE3 on all its threads."""
    import threading
    import time

    from sinks import manifest as m

    files = []
    for name in ("spec.yaml", "a1.tif", "a2.tif", "b1.tif", "b2.tif"):
        p = tmp_path / name
        p.write_bytes(name.encode())
        files.append(str(p))
    calls: list[tuple[str, str, int | None]] = []
    gate = threading.Event()

    def fake(p, algorithm, threads=None):
        calls.append((os.path.basename(p), threading.current_thread().name, threads))
        if os.path.basename(p) == "a1.tif":
            gate.wait(5)  # the thread is busy with a1 while the caller joins

    monkeypatch.setattr(m, "file_digest", fake)
    t = m.hash_in_background(files, algorithm="blake3", paced=[[files[1], files[2]], [files[3], files[4]]])
    t.release(1)
    for _ in range(250):
        if any(c[0] == "a1.tif" for c in calls):
            break
        time.sleep(0.02)
    assert os.getpriority(os.PRIO_PROCESS, t.native_id) == m.HASHING_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < m.HASHING_NICE
    joiner = threading.Thread(target=t.join, name="joiner")
    joiner.start()
    for _ in range(250):
        if len(calls) == 5:
            break
        time.sleep(0.02)
    gate.set()
    joiner.join(5)
    assert not t.is_alive()
    by_file = {f: (who, threads) for f, who, threads in calls}
    assert sorted(by_file) == ["a1.tif", "a2.tif", "b1.tif", "b2.tif", "spec.yaml"] and len(calls) == 5
    assert by_file["spec.yaml"] == by_file["a1.tif"] == ("sinks-hash-inputs", 1)
    assert by_file["a2.tif"] == by_file["b1.tif"] == by_file["b2.tif"] == ("joiner", None)
