"""The data contract between collect/, quality/ and policy/: episode files, manifest, splits, rig config.

Imports nothing of ours; everything else imports it.
"""

from schemas.errors import ConfigError, EpisodeError, UserError

SCHEMA_VERSION = 1

__all__ = ["SCHEMA_VERSION", "ConfigError", "EpisodeError", "UserError"]
