"""Which number format the network computes in: bfloat16 autocast where the hardware has it, else fp32.

bf16 pays only where it is computed natively: every recent GPU, and CPUs with AVX512-BF16 or AMX
(on the dev VM's AVX512-BF16 cores: 0.57x the fp32 time for an inference, 0.60x for a training step;
bench_act.py, benchmarks/RESULTS.md "ACT speed"). Elsewhere a CPU emulates it, slower than fp32.
Weights, optimizer state, layer norms, softmax and the loss stay fp32 under autocast; the actions out
of a bf16 inference differ from fp32's by less than 3 % of a joint's standard deviation (the bound
tests/policy/test_runner.py and test_model.py assert; measured 0.7-1.3 %).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

CHOICES = ("auto", "bf16", "fp32")


def native_bf16(device: torch.device) -> bool:
    """True where bfloat16 matrix products run in hardware on this device."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    cpu = torch.cpu
    return bool(cpu._is_avx512_bf16_supported() or getattr(cpu, "_is_amx_tile_supported", lambda: False)())


def use_bf16(device: torch.device, precision: str) -> bool:
    """`precision` is one of CHOICES: "auto" = bf16 where native, fp32 elsewhere."""
    return precision == "bf16" or (precision == "auto" and native_bf16(device))


def autocast(device: torch.device, bf16: bool) -> AbstractContextManager[object]:
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
