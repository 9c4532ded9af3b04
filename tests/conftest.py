"""Test-wide setup."""

# Before any test module imports MuJoCo (pytest.importorskip("mujoco") at collection): the sim
# package sets MuJoCo's headless GL default, which is fixed at MuJoCo's first import.
import demoforge.collect.sim  # noqa: F401
