"""Tests of starnet_trt.data.lmdb_io (DTRB/PaddleOCR LMDB layout)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("lmdb")

from starnet_trt.data.lmdb_io import LmdbReader, LmdbWriter


def _samples(n: int) -> list[tuple[bytes, str]]:
    return [(bytes([i % 256]) * (10 + i), f"Label{i}ü") for i in range(n)]


def test_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "a.lmdb"
    data = _samples(25)
    with LmdbWriter(out, commit_every=7) as w:
        for img, lab in data:
            w.add(img, lab)
        assert len(w) == 25
        assert not out.exists()  # only appears when complete
    assert (out / "data.mdb").is_file()
    assert not (tmp_path / "a.lmdb.tmp").exists()
    r = LmdbReader(out)
    assert len(r) == 25
    assert [r.read(i + 1) for i in range(25)] == data
    assert list(r) == data


def test_raw_keys_follow_dtrb_layout(tmp_path: Path) -> None:
    import lmdb

    out = tmp_path / "b.lmdb"
    with LmdbWriter(out) as w:
        w.add(b"\x89PNG", "x")
        w.add(b"\xff\xd8", "y")
    env = lmdb.open(str(out), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"num-samples") == b"2"
        assert txn.get(b"image-000000001") == b"\x89PNG"
        assert txn.get(b"label-000000002") == b"y"
        assert txn.get(b"image-000000000") is None  # 1-based
    env.close()


def test_map_grows(tmp_path: Path) -> None:
    out = tmp_path / "grow.lmdb"
    blob = os.urandom(64 * 1024)
    with LmdbWriter(out, map_size=128 * 1024, commit_every=5) as w:
        for i in range(40):  # ~2.5 MiB into a 128 KiB map
            w.add(blob, str(i))
    r = LmdbReader(out)
    assert len(r) == 40 and r.read(40) == (blob, "39")


def test_exception_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "c.lmdb"
    with pytest.raises(RuntimeError):
        with LmdbWriter(out) as w:
            w.add(b"x", "x")
            raise RuntimeError("boom")
    assert not out.exists() and not (tmp_path / "c.lmdb.tmp").exists()


def test_existing_output_protected(tmp_path: Path) -> None:
    out = tmp_path / "d.lmdb"
    with LmdbWriter(out) as w:
        w.add(b"1", "one")
    with pytest.raises(FileExistsError):
        LmdbWriter(out)
    with LmdbWriter(out, overwrite=True) as w:
        w.add(b"2", "two")
        w.add(b"3", "three")
    assert len(LmdbReader(out)) == 2


def test_stale_tmp_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "e.lmdb"
    (tmp_path / "e.lmdb.tmp").mkdir()
    (tmp_path / "e.lmdb.tmp" / "junk").write_text("x")
    with LmdbWriter(out) as w:
        w.add(b"1", "one")
    assert len(LmdbReader(out)) == 1


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        LmdbReader(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"data\.mdb"):
        LmdbReader(tmp_path / "empty")


def test_garbage_file_is_clear_error(tmp_path: Path) -> None:
    d = tmp_path / "bad.lmdb"
    d.mkdir()
    (d / "data.mdb").write_bytes(b"this is not an lmdb" * 500)
    with pytest.raises(ValueError, match=r"corrupt LMDB .*not an LMDB file"):
        LmdbReader(d)


def test_truncated_file_is_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "t.lmdb"
    with LmdbWriter(out, commit_every=10) as w:
        for i in range(300):
            w.add(os.urandom(3000), str(i))
    mdb = out / "data.mdb"
    os.truncate(mdb, mdb.stat().st_size // 2)
    # Without the size check this would die with SIGBUS, not raise.
    with pytest.raises(ValueError, match="truncated"):
        LmdbReader(out)


def test_not_a_dtrb_lmdb(tmp_path: Path) -> None:
    import lmdb

    d = tmp_path / "other.lmdb"
    env = lmdb.open(str(d), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"hello", b"world")
    env.close()
    with pytest.raises(ValueError, match="num-samples"):
        LmdbReader(d)


def test_missing_sample_keys(tmp_path: Path) -> None:
    import lmdb

    d = tmp_path / "short.lmdb"
    env = lmdb.open(str(d), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", b"3")
        txn.put(b"image-000000001", b"x")
        txn.put(b"label-000000001", b"a")
    env.close()
    r = LmdbReader(d)
    assert r.read(1) == (b"x", "a")
    with pytest.raises(KeyError, match="truncated"):
        r.read(2)
    with pytest.raises(IndexError):
        r.read(4)
    with pytest.raises(IndexError):
        r.read(0)


def test_reader_pickles(tmp_path: Path) -> None:
    import pickle

    out = tmp_path / "p.lmdb"
    with LmdbWriter(out) as w:
        w.add(b"abc", "lab")
    r = LmdbReader(out)
    r.read(1)
    r2 = pickle.loads(pickle.dumps(r))  # DataLoader workers receive a copy
    assert r2.read(1) == (b"abc", "lab")
    shutil.rmtree(out)


def test_two_readers_same_lmdb(tmp_path: Path) -> None:
    # py-lmdb forbids opening one env twice per process; readers must share it.
    out = tmp_path / "s.lmdb"
    with LmdbWriter(out) as w:
        w.add(b"abc", "lab")
    r1, r2 = LmdbReader(out), LmdbReader(out)
    assert r1.read(1) == r2.read(1)
    r1.close()
    assert r2.read(1) == (b"abc", "lab")
    assert r1.read(1) == (b"abc", "lab")  # re-opens on demand
    r1.close()
    r2.close()


def test_missing_lmdb_package_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    out = tmp_path / "m.lmdb"
    with LmdbWriter(out) as w:
        w.add(b"x", "y")
    monkeypatch.setitem(sys.modules, "lmdb", None)  # makes `import lmdb` raise ImportError
    with pytest.raises(ImportError, match=r"pip install starnet-trt\[data\]"):
        LmdbReader(out)
