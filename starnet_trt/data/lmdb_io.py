"""LMDB reading and writing in the DTRB / PaddleOCR ``LMDBDataSet`` layout.

Layout (one LMDB environment = one directory holding ``data.mdb`` and ``lock.mdb``):

* ``num-samples`` -> decimal count ``N``
* ``image-%09d`` -> encoded image bytes (JPEG or PNG), indices ``1..N``
* ``label-%09d`` -> UTF-8 label, same indices

``lmdb`` is an optional dependency (``pip install starnet-trt[data]``) so it is imported
only when an LMDB is actually opened.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, TracebackType

from .lmdb_check import verify_lmdb

NUM_SAMPLES_KEY = b"num-samples"


def image_key(index: int) -> bytes:
    """Key of the 1-based ``index``-th image."""
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    """Key of the 1-based ``index``-th label."""
    return b"label-%09d" % index


def import_lmdb() -> ModuleType:
    """Import ``lmdb`` or explain how to get it.

    Raises:
        ImportError: When the package is missing, with the install hint.
    """
    try:
        import lmdb
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("LMDB datasets need the 'lmdb' package: pip install starnet-trt[data]") from exc
    return lmdb


class LmdbWriter:
    """Write samples to a new LMDB, atomically-ish.

    Samples go to ``<path>.tmp`` and the directory is renamed to ``path`` only when the
    writer is closed without error, so a crashed or interrupted generation never
    leaves something that looks like a complete dataset. Writes are committed every
    ``commit_every`` samples and the map is doubled whenever it fills up.

    Example:
        >>> with LmdbWriter("out.lmdb") as w:  # doctest: +SKIP
        ...     w.add(png_bytes, "Hello")
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        map_size: int = 1 << 30,
        commit_every: int = 1000,
        overwrite: bool = False,
    ) -> None:
        """Open the temporary environment.

        Args:
            path: Final LMDB directory.
            map_size: Initial map size in bytes (grown automatically).
            commit_every: Samples per write transaction.
            overwrite: Replace an existing ``path`` on successful close; otherwise an
                existing ``path`` is an error, raised before anything is written.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is false.
        """
        self._lmdb = import_lmdb()
        self.path = Path(path)
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists (use overwrite=True / --overwrite)")
        if self.tmp_path.exists():
            # Left over from a crashed run: it never became a dataset, so it is garbage.
            shutil.rmtree(self.tmp_path)
        self.tmp_path.mkdir(parents=True)
        self._map_size = int(map_size)
        self._env = self._lmdb.open(
            str(self.tmp_path),
            map_size=self._map_size,
            subdir=True,
            lock=True,
            readahead=False,
            meminit=False,
        )
        self._commit_every = max(1, int(commit_every))
        self._pending: list[tuple[bytes, bytes]] = []
        self._count = 0
        self._closed = False

    def __len__(self) -> int:
        """Number of samples added so far."""
        return self._count

    def add(self, image: bytes, label: str) -> int:
        """Queue one sample; returns its 1-based index."""
        if self._closed:
            raise RuntimeError("LmdbWriter is closed")
        self._count += 1
        self._pending.append((image_key(self._count), bytes(image)))
        self._pending.append((label_key(self._count), label.encode("utf-8")))
        if len(self._pending) >= 2 * self._commit_every:
            self.flush()
        return self._count

    def _put_all(self, items: list[tuple[bytes, bytes]]) -> None:
        # Retry the whole transaction after growing the map: a failed txn is aborted,
        # so nothing is half-written.
        while True:
            try:
                with self._env.begin(write=True) as txn:
                    for key, value in items:
                        txn.put(key, value)
                return
            except self._lmdb.MapFullError:
                self._map_size *= 2
                self._env.set_mapsize(self._map_size)

    def flush(self) -> None:
        """Commit queued samples."""
        if self._pending:
            self._put_all(self._pending)
            self._pending = []

    def close(self) -> None:
        """Write ``num-samples``, sync and move the LMDB to its final path."""
        if self._closed:
            return
        self._pending.append((NUM_SAMPLES_KEY, str(self._count).encode()))
        self.flush()
        self._env.sync()
        self._env.close()
        self._closed = True
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp_path, self.path)

    def abort(self) -> None:
        """Drop everything written; ``path`` is left untouched."""
        if self._closed:
            return
        self._env.close()
        self._closed = True
        shutil.rmtree(self.tmp_path, ignore_errors=True)

    def __enter__(self) -> LmdbWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# py-lmdb refuses to open one environment twice in a process, yet training and evaluation
# may each build a dataset over the same LMDB: readers share one env per (path, process).
_ENVS: dict[tuple, list] = {}


def _env_key(path: Path) -> tuple:
    """Cache key of an open environment: the file's identity too, so a data.mdb replaced or rewritten while a
    process runs gets a fresh environment instead of a mapping sized for the old file (SIGBUS past its end)."""
    try:
        st = (path / "data.mdb").stat()
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        identity = None
    return (os.path.realpath(path), os.getpid(), identity)


def _acquire_env(lmdb: ModuleType, path: Path, check: Callable[[object], None]):
    key = _env_key(path)
    entry = _ENVS.get(key)
    if entry is None:
        try:
            env = lmdb.open(
                str(path),
                readonly=True,
                lock=False,
                readahead=False,
                meminit=False,
                max_readers=64,
                subdir=True,
            )
        except lmdb.Error as exc:
            raise ValueError(f"{path}: cannot open LMDB ({exc})") from exc
        check(env)
        entry = _ENVS[key] = [env, 0]
    entry[1] += 1
    return entry[0], key


def _release_env(key: tuple) -> None:
    entry = _ENVS.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        entry[0].close()
        del _ENVS[key]


class LmdbReader:
    """Read-only access to a DTRB/PaddleOCR LMDB.

    The environment is opened lazily and re-opened after ``fork`` so that a reader
    created in the main process can be used from DataLoader workers.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Check the LMDB and read its sample count.

        Args:
            path: LMDB directory (containing ``data.mdb``).

        Raises:
            FileNotFoundError: ``path`` or its ``data.mdb`` does not exist.
            ValueError: The file is not a readable LMDB, is truncated or corrupt (checked by
                :func:`starnet_trt.data.lmdb_check.verify_lmdb` before liblmdb maps it), or lacks a valid
                ``num-samples``.
        """
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"LMDB directory not found: {self.path}")
        if not (self.path / "data.mdb").is_file():
            raise FileNotFoundError(f"not an LMDB directory (no data.mdb): {self.path}")
        self._lmdb = import_lmdb()
        # Before liblmdb maps the file: a page pointing outside it would kill the process (SIGBUS/SIGSEGV).
        verify_lmdb(self.path)
        self._env = None
        self._pid = -1
        raw = self._get(NUM_SAMPLES_KEY)
        if raw is None:
            raise ValueError(f"{self.path}: LMDB has no 'num-samples' key (not a DTRB/PaddleOCR dataset?)")
        try:
            self._n = int(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"{self.path}: invalid 'num-samples' value {raw[:32]!r}") from exc
        if self._n < 0:
            raise ValueError(f"{self.path}: negative 'num-samples' {self._n}")

    def _open(self):
        if self._env is None or self._pid != os.getpid():
            self._env, self._env_key = _acquire_env(self._lmdb, self.path, self._check_size)
            self._pid = os.getpid()
        return self._env

    def _check_size(self, env) -> None:
        # A truncated data.mdb (interrupted copy) is memory-mapped without complaint and
        # reading a page past the end of the file kills the process with SIGBUS, so
        # compare the pages LMDB thinks it has with the file size first.
        size = (self.path / "data.mdb").stat().st_size
        needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
        if needed > size:
            env.close()
            raise ValueError(f"{self.path}: truncated LMDB (data.mdb has {size} bytes, needs {needed})")

    def _get(self, key: bytes) -> bytes | None:
        env = self._open()
        try:
            with env.begin(write=False) as txn:
                value = txn.get(key)
        except self._lmdb.Error as exc:
            raise ValueError(f"{self.path}: corrupted LMDB ({exc})") from exc
        return None if value is None else bytes(value)

    def __len__(self) -> int:
        """Number of samples (``num-samples``)."""
        return self._n

    def read(self, index: int) -> tuple[bytes, str]:
        """Return ``(image_bytes, label)`` of the 1-based ``index``-th sample.

        Raises:
            IndexError: ``index`` outside ``1..len``.
            KeyError: The sample's keys are missing (truncated LMDB).
        """
        if not 1 <= index <= self._n:
            raise IndexError(f"sample {index} outside 1..{self._n} in {self.path}")
        img = self._get(image_key(index))
        lab = self._get(label_key(index))
        if img is None or lab is None:
            raise KeyError(f"{self.path}: sample {index} missing (truncated LMDB?)")
        return img, lab.decode("utf-8", errors="replace")

    def __iter__(self) -> Iterator[tuple[bytes, str]]:
        for i in range(1, self._n + 1):
            yield self.read(i)

    def close(self) -> None:
        """Release the environment (it re-opens on next access)."""
        if self._env is not None and self._pid == os.getpid():
            _release_env(self._env_key)
        self._env = None

    def __getstate__(self) -> dict:
        # lmdb environments cannot be pickled; workers re-open their own.
        state = self.__dict__.copy()
        state["_env"] = None
        state["_pid"] = -1
        state["_lmdb"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lmdb = import_lmdb()
