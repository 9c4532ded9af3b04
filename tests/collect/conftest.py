"""Fixtures of the collect tests: one ALOHA left arm (`rig`) and its chains on the protocol emulator
(`chains`, threads in this process; real dynamixel-sdk). A module defining its own `rig` uses that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demoforge.collect.virtual_rig import VirtualChains, start_virtual_chains
from demoforge.schemas.rig import Rig
from tests.collect.test_arm import aloha_rig


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return aloha_rig(tmp_path, arms=("left",))


@pytest.fixture
def chains(rig: Rig) -> Iterator[VirtualChains]:
    with start_virtual_chains(rig, mode="thread", operator=False) as c:
        yield c
