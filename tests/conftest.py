"""Test-wide setup."""

import pytest

# Before any test module imports MuJoCo (pytest.importorskip("mujoco") at collection): the sim
# package sets MuJoCo's headless GL default, which is fixed at MuJoCo's first import.
import demoforge.collect.sim  # noqa: F401


@pytest.fixture(autouse=True)
def _own_user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-user state (calibrations of shipped rigs) goes to a folder of each test's own, never the
    real ~/.config (platformdirs reads XDG_CONFIG_HOME; child processes inherit it)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
