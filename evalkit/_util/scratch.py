"""Private scratch files: where a tally, a duplicate check, an index or the history's fed rows
go once they would not fit in memory at a million cases.

Each process's named scratch files live in a folder of its own (`folder`), inside one folder
per user in the temporary folder (`evalkit-UID`, mode 0700), and the process holds a lock on it
while it lives. A file is removed when its user is done with it, the folder when the process
exits; a process killed (SIGKILL, out of memory) cannot remove them, so the next process that
makes scratch files removes every folder whose lock nobody holds any longer: the kernel drops a
lock with its process, whatever killed it, so a live process's folder is never taken, even one
in another PID namespace sharing the temporary folder.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path

LOCK = ".lock"  # in each process's folder: held (flock) while the process lives

# this process's folder, made with its first scratch file: (pid, the temporary folder, it)
_own: tuple[int, str, Path] | None = None


def scratch_db(schema: str) -> sqlite3.Connection:
    """A private SQLite file (the name "": made in the temporary folder, deleted on close) in
    autocommit mode (callers BEGIN and COMMIT their batches), with no journal and no syncing
    (nothing in it must outlive the process), holding the tables `schema` creates."""
    db = sqlite3.connect("", isolation_level=None)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + schema)
    return db


def scratch_file(prefix: str, suffix: str = "") -> str:
    """The path of a new empty file in this process's scratch folder (its user removes it)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder())
    os.close(fd)
    return name


def folder() -> Path:
    """This process's scratch folder, made (and the folders of dead processes removed) on the
    first call; the temporary folder itself where a private one cannot be made."""
    global _own
    tmp = tempfile.gettempdir()
    if _own is not None and _own[:2] == (os.getpid(), tmp) and _own[2].is_dir():
        return _own[2]
    try:
        base = _user_folder(tmp)
        own = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base))
        _hold(own)
    except (OSError, ImportError):  # no private folder, or no flock (Windows): the plain one
        return Path(tmp)
    _sweep(base, own)
    atexit.register(shutil.rmtree, own, True)
    _own = (os.getpid(), tmp, own)
    return own


def _user_folder(tmp: str) -> Path:
    """`evalkit-UID` in the temporary folder: made private, and refused (OSError) where it is a
    link or another user's."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    base = Path(tmp) / f"evalkit-{uid if uid is not None else 'scratch'}"
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
        raise OSError(f"{base} is not a private folder")
    return base


def _hold(own: Path) -> None:
    """Lock `own` for as long as this process lives (the descriptor is never closed; a child
    started with exec does not inherit it)."""
    import fcntl

    fd = os.open(own / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _sweep(base: Path, own: Path) -> None:
    """Remove the folders in `base` whose lock nobody holds: their processes are gone."""
    import fcntl

    for other in base.iterdir():
        if other == own:
            continue
        try:
            fd = os.open(other / LOCK, os.O_RDWR)
        except OSError:  # being made (no lock yet) or being removed: left alone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while removing: one sweep at a time
            shutil.rmtree(other, ignore_errors=True)
        except OSError:
            pass  # held: its process lives
        finally:
            os.close(fd)
