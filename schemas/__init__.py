"""The data contract between collect/, quality/ and policy/: episode files, manifest, splits, rig config.

Imports nothing of ours; everything else imports it.
"""

from demoforge.schemas.episode_layout import SCHEMA_VERSION
from demoforge.schemas.errors import ConfigError, EpisodeError, UserError

__all__ = ["SCHEMA_VERSION", "ConfigError", "EpisodeError", "UserError"]
