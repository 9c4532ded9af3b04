"""Can a folder be written? Asked before a command writes anything, so a read-only dataset (a shared
disk, a read-only mount) is one message naming the folder, never a traceback halfway through a write.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from demoforge.schemas.errors import UserError

# The errors a user's environment causes (not a bug of ours): each becomes one message, exit 2.
ENVIRONMENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


class NotWritable(UserError):
    """A folder or file the command must write cannot be written (permissions, read-only, disk full)."""


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def require_writable(folder: Path, what: str, hint: str) -> None:
    """Raise NotWritable unless `folder` can be written, or created where it does not exist yet.

    `os.access` answers for the effective user and also sees a read-only mount and an immutable folder
    (both refuse even root); it writes nothing, so the check leaves the folder untouched.
    """
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise NotWritable(f"{what} {folder}: {base} is a file, not a folder", hint)
    if not os.access(base, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only_mount(base) else "permission denied"
        where = str(folder) if base == folder.absolute() else f"{folder} (its parent {base})"
        raise NotWritable(f"{what} {where} cannot be written: {why}", hint)


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def environment_error(e: OSError) -> NotWritable | None:
    """The one-message form of an OSError the user's environment caused, or None for anything else."""
    code = e.errno
    if code is None:  # h5py puts the C errno into the message only ("errno = 30, error message = ...")
        text = str(e)
        for c in ENVIRONMENT_ERRNOS:
            if f"errno = {c}," in text:
                code = c
                break
    if code not in ENVIRONMENT_ERRNOS:
        return None
    where = e.filename or _h5py_name(str(e)) or "a file"
    reason = os.strerror(code).lower()
    hint = (
        "free some space or write somewhere else"
        if code in (errno.ENOSPC, errno.EDQUOT)
        else "write somewhere you may write (another --out / --dataset), or ask for write access"
    )
    return NotWritable(f"cannot write {where}: {reason}", hint)


def _h5py_name(text: str) -> str | None:
    marker = "name = '"
    if marker not in text:
        return None
    return text.split(marker, 1)[1].split("'", 1)[0]
