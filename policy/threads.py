"""How many intra-op threads torch uses: the cores this process may run on, never more.

torch's default is the machine's core count (`os.cpu_count()`), which ignores a CPU affinity mask
(taskset, cgroups' cpusets, a container's share). More OpenMP workers than cores is the worst case:
workers spin while they wait for a core: on a loaded 2-core machine an inference took 20x longer with
two threads than with one (bench_act.py, benchmarks/RESULTS.md "ACT speed"). So every command that runs
the network sets its threads here.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask; the core count where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows: no affinity API
        return max(1, os.cpu_count() or 1)


def use_cores(leave: int = 0, share: int = 1) -> int:
    """Cap torch's threads at the usable cores / `share` (processes on this host) less `leave`.

    Never raises a count set before (OMP_NUM_THREADS, torch.set_num_threads: a run pinned to one core
    stays there); at least one. Returns the thread count set."""
    import torch

    n = max(1, min(torch.get_num_threads(), usable_cores() // max(share, 1) - leave))
    torch.set_num_threads(n)
    return n
