"""One process per serial port: an exclusive lock on the device plus a lock file naming the holder.

Two programs on one Dynamixel bus corrupt each other's packets, and `calibrate` (torque off) or
`devices --reboot` on a live recorder's bus drops an arm. `flock` on the open device is what the
kernel enforces (pyserial's `exclusive=True` does the same); it releases itself when the process dies.
It cannot say who holds it, so a lock file beside it does: `<dir>/demoforge-<device>.lock` with the
holder's pid and command line. The directory is `/run/lock` where writable (shared by every user, as
the UUCP `LCK..` files there), else the per-user runtime directory; `DEMOFORGE_LOCK_DIR` overrides both.
A lock file whose process is gone is stale and simply replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path

from demoforge.collect.errors import HardwareError

ENV_DIR = "DEMOFORGE_LOCK_DIR"


def lock_dir() -> Path:
    """Where lock files go (see the module docstring)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    shared = Path("/run/lock")
    if shared.is_dir() and os.access(shared, os.W_OK):
        return shared
    import platformdirs

    return Path(platformdirs.user_runtime_dir("demoforge", ensure_exists=True))


def lock_file(device: str) -> Path:
    """The lock file of a device path (symlinks such as /dev/ttyDXL_puppet_left followed)."""
    real = os.path.realpath(device)
    return lock_dir() / f"demoforge-{re.sub(r'[^A-Za-z0-9_.-]', '_', real.strip('/'))}.lock"


def _holder(path: Path) -> tuple[int, str] | None:
    """(pid, command line) written in a lock file, if that process still runs."""
    try:
        pid_text, _, command = path.read_text().partition("\n")
        pid = int(pid_text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid, command.strip()


def _command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class PortLock:
    """Held while a bus is open: `acquire(fd)` right after opening the device, `release()` at close."""

    def __init__(self, name: str, device: str) -> None:
        self.name = name  # as the rig names the port, for messages
        self.device = device
        self.path = lock_file(device)
        self._fd: int | None = None

    def acquire(self, fd: int) -> None:
        """Lock the open device `fd`; raise a HardwareError naming the holder if another process has it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise self._in_use() from None
        self._fd = fd
        with contextlib.suppress(OSError):  # the file only names the holder; the flock is the lock
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(f"{os.getpid()}\n{_command_of(os.getpid())}\n")
            tmp.replace(self.path)

    def _in_use(self) -> HardwareError:
        holder = _holder(self.path)
        who = (
            f"process {holder[0]} ({holder[1] or 'command unknown'})"
            if holder is not None
            else "another process (it left no lock file: see `fuser " + self.device + "`)"
        )
        return HardwareError(
            f"serial port {self.name} is in use by {who}",
            "stop that program first (a second program on one bus corrupts both, and `calibrate` or "
            "`devices --reboot` would drop a live arm)",
        )

    def release(self) -> None:
        """Remove our lock file (if still ours) and unlock the device."""
        if self._fd is None:
            return
        holder = _holder(self.path)
        if holder is not None and holder[0] == os.getpid():
            with contextlib.suppress(OSError):
                self.path.unlink()
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._fd = None
