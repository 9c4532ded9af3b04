"""A folder nobody may write to, even root (who ignores permission bits): a read-only bind mount.

Root: `mount --bind -o ro DIR DIR` (the folder mounted read-only over itself, undone on exit); else
`chattr +i` on every folder of the tree (no file may be created, renamed or removed in it); a user who
is not root gets `chmod a-w`, which binds them. Skips when none of these is possible.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*cmd: str) -> bool:
    if shutil.which(cmd[0]) is None:
        return False
    return subprocess.run(cmd, capture_output=True).returncode == 0


def _writable(folder: Path) -> bool:
    probe = folder / ".write-probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder` (and everything under it) cannot be written for the duration of the block."""
    folder = folder.resolve()
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for p, m in modes.items():
            p.chmod(m & ~0o222)
        try:
            yield folder
        finally:
            for p, m in modes.items():
                p.chmod(m)
        return
    if _run("mount", "--bind", "-o", "ro", str(folder), str(folder)):
        try:
            if _writable(folder):  # some kernels ignore ro on the first bind: remount
                _run("mount", "-o", "remount,bind,ro", str(folder))
            assert not _writable(folder), f"{folder}: read-only bind mount is writable"
            yield folder
        finally:
            _run("umount", str(folder))
        return
    dirs = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    files = [p for p in folder.rglob("*") if p.is_file()]
    if not _run("chattr", "+i", *map(str, dirs + files)):
        pytest.skip("cannot make a read-only folder here (no bind mount, no chattr)")
    try:
        yield folder
    finally:
        _run("chattr", "-i", *map(str, dirs + files))
