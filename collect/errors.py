"""Errors a user can cause with hardware: unplugged devices, wrong ports, motors that stop answering."""

from demoforge.schemas.errors import UserError


class HardwareError(UserError):
    """A device is missing, unplugged or misbehaving; the message names it (port, id, model, serial)."""
