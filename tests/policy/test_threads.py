"""torch's intra-op threads follow the cores this process may use, never more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")

from demoforge.policy import threads  # noqa: E402


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_follow_the_affinity_mask_not_the_core_count(
    monkeypatch: pytest.MonkeyPatch, restore_threads: None
) -> None:
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 64)
    assert threads.usable_cores() == 1
    assert threads.use_cores() == 1 and torch.get_num_threads() == 1
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 5}, raising=False)
    torch.set_num_threads(8)  # torch's default: os.cpu_count()
    assert threads.use_cores(leave=1) == 3 and torch.get_num_threads() == 3
    assert threads.use_cores(share=2) == 2  # two training processes on this host
    assert threads.use_cores(leave=9) == 1  # never none
    torch.set_num_threads(1)  # pinned by the user (e.g. --threads 1): never raised
    assert threads.use_cores() == 1
