"""The SQLite state file, checked before SQLAlchemy opens it (trust nothing you did not write).

A file that is not SQLite, is cut short, is empty or fails `PRAGMA quick_check` is refused with
one line that names it and says what to do; so is a read-only file or folder. A new state file
is made 0600 under a temporary name and linked into place once SQLite has written its header:
a crash while creating it leaves no half-made (zero-length) state behind, and SQLite gives the
`-wal` / `-shm` journal files the mode of the database file.
"""
from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from baton.core.errors import StateFileError, StateNotWritable

HEADER = b"SQLite format 3\x00"
ADVICE = ("restore it from a backup, or move it aside and run `baton reset-state` to take a new "
          "baseline on purpose")
JOURNALS = ("-wal", "-shm")


def prepare(path: Path) -> None:
    """Refuse a state file Baton cannot use; make a new one (0600) where there is none."""
    if path.is_dir():
        raise StateFileError(f"state file {path} is a folder, not a file; point baton.state at a "
                             "file (e.g. .baton/state.db)")
    if path.exists():
        _check_writable(path)
        check_contents(path)
        return
    left = [j for j in JOURNALS if path.with_name(path.name + j).exists()]
    if "-wal" in left:
        raise StateFileError(f"state file {path} is missing but its journal {path.name}-wal is "
                             "still there (SQLite would replay it into a new state); restore the "
                             "state file from a backup, or run `baton reset-state` to move the "
                             "journal aside and take a new baseline on purpose")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StateNotWritable(f"cannot make the folder {folder} for the state file {path}: "
                               f"{error.strerror}") from None
    _check_folder(folder, path)
    _create(path)


def check_contents(path: Path) -> None:
    """Empty, not SQLite, cut short, or failing SQLite's own quick check: StateFileError."""
    size = path.stat().st_size
    if size == 0:
        raise StateFileError(f"state file {path} is empty (0 bytes): it holds no cursor and no "
                             f"write-back ledger, so starting on it would re-baseline silently; "
                             f"{ADVICE}")
    with path.open("rb") as handle:
        header = handle.read(100)
    if not header.startswith(HEADER):
        raise StateFileError(f"state file {path} is not a SQLite database; {ADVICE}")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    counted = header[24:28] == header[92:96]  # the page count is valid (SQLite file format)
    if len(header) < 100 or not page_size or size % page_size or (counted and pages * page_size > size):
        raise StateFileError(f"state file {path} is truncated ({size} bytes); {ADVICE}")
    try:
        connection = sqlite3.connect(path)
        try:
            found = [row[0] for row in connection.execute("PRAGMA quick_check")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise StateFileError(f"state file {path} is damaged ({error}); {ADVICE}") from None
    if found != ["ok"]:
        first = next((line for row in found for line in str(row).splitlines()
                      if line and not line.startswith("***")), "no answer")
        raise StateFileError(f"state file {path} fails SQLite's quick_check ({first}); {ADVICE}")


def _check_writable(path: Path) -> None:
    for file in (path, *(path.with_name(path.name + j) for j in JOURNALS)):
        if file.exists() and not _writable(file):
            raise StateNotWritable(
                f"state file {file} is read-only (mode {_mode(file)}); Baton writes it every "
                "cycle: make it writable for the user Baton runs as")
    _check_folder(path.parent, path)


def _check_folder(folder: Path, path: Path) -> None:
    if not _writable(folder, os.W_OK | os.X_OK):
        raise StateNotWritable(
            f"the folder {folder} of the state file {path.name} is read-only (mode "
            f"{_mode(folder)}); SQLite keeps its journal ({path.name}-wal, -shm) beside the file, "
            "so the user Baton runs as must be able to write there")


def _writable(path: Path, access: int = os.W_OK) -> bool:
    """Writable for this user, and not marked read-only by its owner (root ignores the bits)."""
    return os.access(path, access) and bool(path.stat().st_mode & stat.S_IWUSR)


def _mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def _create(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(temporary, 0o600)  # whatever the umask
        connection = sqlite3.connect(temporary)
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # writes the header: never 0 bytes
        finally:
            connection.close()
        try:
            os.link(temporary, path)  # never replaces a state another process just made
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.rename(temporary, path)
    except OSError as error:
        raise StateNotWritable(f"cannot create the state file {path}: {error.strerror}") from None
    finally:
        for leftover in (temporary, *(temporary.with_name(temporary.name + j) for j in JOURNALS)):
            leftover.unlink(missing_ok=True)
