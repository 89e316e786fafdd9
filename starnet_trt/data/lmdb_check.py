"""Structural check of an LMDB file before liblmdb memory-maps it.

liblmdb trusts its files: a page number or node offset that points past the end of ``data.mdb`` makes it read
outside the file, and the process dies with SIGBUS or SIGSEGV (found by ``tests/fuzz/test_fuzz_files.py``).
Datasets come from other people, so :func:`verify_lmdb` walks the main database's B-tree first, reading the file
read-only, and checks every page number, node offset and overflow run against the file's size and the meta
page. It supports what DTRB/PaddleOCR datasets use: the main (unnamed) database, no sub-databases, no duplicate
keys. Cost: one pass over the branch and leaf pages (about a second per million entries); verified files are
remembered by (path, size, mtime).

Layout (liblmdb 0.9, ``mdb.c``): page header ``pgno u64, pad u16, flags u16, lower u16, upper u16`` (overflow
pages: ``pages u32`` in place of lower/upper); meta after the header: ``magic u32, version u32, address u64,
mapsize u64, dbs[2] (48 bytes each: pad u32, flags u16, depth u16, branch/leaf/overflow pages, entries, root,
all u64), last_pg u64, txnid u64``; nodes: ``lo u16, hi u16, flags u16, ksize u16``, key, data.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

MAGIC = 0xBEEFC0DE
DATA_VERSION = 1
PAGE_HEADER = 16
P_BRANCH, P_LEAF, P_OVERFLOW, P_META = 0x01, 0x02, 0x04, 0x08
F_BIGDATA, F_SUBDATA, F_DUPDATA = 0x01, 0x02, 0x04
P_INVALID = 0xFFFFFFFFFFFFFFFF
_META = struct.Struct("<IIQQ48s48sQQ")
_DB = struct.Struct("<IHHQQQQQ")
_NODE = struct.Struct("<HHHH")
_VERIFIED: dict[tuple[str, int, int], int] = {}


def _fail(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: corrupt LMDB ({what})")


def _read_meta(mm: mmap.mmap, offset: int, path: Path) -> tuple[int, int, int, int] | None:
    """(page size, main root, last page, txnid) of the meta page at ``offset``, or None if it is not valid."""
    if offset + PAGE_HEADER + _META.size > len(mm):
        return None
    flags = struct.unpack_from("<H", mm, offset + 10)[0]
    magic, version, _addr, _mapsize, free_db, main_db, last_pg, txnid = _META.unpack_from(mm, offset + PAGE_HEADER)
    if not flags & P_META or magic != MAGIC or version != DATA_VERSION:
        return None
    psize = _DB.unpack(free_db)[0]  # FREE_DBI's md_pad holds the page size
    root = _DB.unpack(main_db)[7]
    return psize, root, last_pg, txnid


def verify_lmdb(path: str | os.PathLike[str]) -> int:
    """Check ``path/data.mdb``; returns the number of entries in the main database.

    Raises:
        FileNotFoundError: No ``data.mdb``.
        ValueError: The file is not an LMDB, is truncated, or has a page or node that points outside the file.
    """
    path = Path(path)
    data = path / "data.mdb"
    st = data.stat()
    key = (os.path.realpath(data), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return _VERIFIED[key]
    if st.st_size < 2 * 512:
        raise _fail(path, f"data.mdb has {st.st_size} bytes, less than two meta pages")
    with open(data, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        first = _read_meta(mm, 0, path)
        if first is None:
            raise _fail(path, "no valid meta page 0: not an LMDB file")
        psize = first[0]
        if psize < 512 or psize > 65536 or psize & (psize - 1):
            raise _fail(path, f"page size {psize}")
        second = _read_meta(mm, psize, path)
        metas = [m for m in (first, second) if m is not None and m[0] == psize]
        _, root, last_pg, _ = max(metas, key=lambda m: m[3])
        pages = len(mm) // psize
        if last_pg + 1 > pages:
            raise _fail(path, f"truncated: the meta page counts {last_pg + 1} pages, the file holds {pages}")
        entries = 0 if root == P_INVALID else _walk(mm, path, psize, root, last_pg)
    _VERIFIED[key] = entries
    return entries


def _walk(mm: mmap.mmap, path: Path, psize: int, root: int, last_pg: int) -> int:
    entries = 0
    stack = [root]
    seen: set[int] = set()
    while stack:
        pgno = stack.pop()
        if not 2 <= pgno <= last_pg:
            raise _fail(path, f"page number {pgno} outside 2..{last_pg}")
        if pgno in seen:
            raise _fail(path, f"page {pgno} referenced twice")
        seen.add(pgno)
        base = pgno * psize
        stored, _pad, flags, lower, upper = struct.unpack_from("<QHHHH", mm, base)
        if stored != pgno:
            raise _fail(path, f"page {pgno} says it is page {stored}")
        if not flags & (P_BRANCH | P_LEAF) or flags & ~(P_BRANCH | P_LEAF):
            raise _fail(path, f"page {pgno} has flags {flags:#x} (only plain branch/leaf pages are supported)")
        if not PAGE_HEADER <= lower <= upper <= psize or (lower - PAGE_HEADER) % 2:
            raise _fail(path, f"page {pgno} bounds lower={lower} upper={upper}")
        for i in range((lower - PAGE_HEADER) // 2):
            ptr = struct.unpack_from("<H", mm, base + PAGE_HEADER + 2 * i)[0]
            if not upper <= ptr <= psize - _NODE.size:
                raise _fail(path, f"page {pgno} node {i} at offset {ptr}")
            lo, hi, nflags, ksize = _NODE.unpack_from(mm, base + ptr)
            key_end = ptr + _NODE.size + ksize
            if key_end > psize:
                raise _fail(path, f"page {pgno} node {i} key runs past the page")
            if flags & P_BRANCH:
                stack.append(lo | hi << 16 | nflags << 32)
                continue
            entries += 1
            size = lo | hi << 16
            if nflags & (F_SUBDATA | F_DUPDATA):
                raise _fail(path, f"page {pgno} node {i} is a sub-database or duplicate (not supported)")
            if nflags & F_BIGDATA:
                if key_end + 8 > psize:
                    raise _fail(path, f"page {pgno} node {i} overflow pointer runs past the page")
                first = struct.unpack_from("<Q", mm, base + key_end)[0]
                if not 2 <= first <= last_pg:
                    raise _fail(path, f"page {pgno} node {i} overflow page {first} outside 2..{last_pg}")
                ov = first * psize
                ov_stored, _p, ov_flags, count = struct.unpack_from("<QHHI", mm, ov)
                if ov_stored != first or not ov_flags & P_OVERFLOW or count < 1 or first + count - 1 > last_pg:
                    raise _fail(path, f"overflow run at page {first} ({count} pages) is invalid")
                if size > count * psize - PAGE_HEADER:
                    raise _fail(path, f"page {pgno} node {i} value of {size} bytes exceeds its overflow run")
            elif key_end + size > psize:
                raise _fail(path, f"page {pgno} node {i} value runs past the page")
    return entries
