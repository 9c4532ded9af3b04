"""Errors a user can cause while training or running a policy."""

from demoforge.schemas.errors import UserError


class PolicyError(UserError):
    """Training cannot go on (the loss became NaN) or a policy cannot run on this rig; names the fix."""
