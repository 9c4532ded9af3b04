"""Errors a user can cause with hardware: unplugged devices, wrong ports, motors that stop answering."""

from demoforge.schemas.errors import UserError


class HardwareError(UserError):
    """A device is missing, unplugged or misbehaving; the message names it (port, id, model, serial)."""


class StorageError(UserError):
    """Recorded data cannot be written (disk full, folder gone or read-only); the message names the file."""
