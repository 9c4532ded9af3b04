"""Errors a user can cause. The CLI prints `message` and `hint` on one line each and exits with 2."""


class UserError(Exception):
    """Base of every error a user can cause and fix (bad path, bad config, damaged file, unplugged device)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(UserError):
    """A rig, thresholds or other TOML/JSON config is invalid: names the file, the key and the fix."""


class EpisodeError(UserError):
    """An episode or dataset file cannot be read as one: missing, damaged, or not in our layout."""
