"""The optimizer: AdamW with the backbone in its own parameter group, as ACT and LeRobot build it.

ACT: detr/main.py:80-88 (two groups, `lr_backbone` for the backbone); LeRobot 0.4.4:
policies/act/modeling_act.py:71-90 (`get_optim_params`). Both take torch's default AdamW, which on a
CPU updates one parameter tensor at a time (torch/optim/optimizer.py `_default_to_fused_or_foreach`:
the multi-tensor paths only for CUDA-like devices). Here it is fused where torch has the kernel for
the device (CUDA; CPU since torch 2.4): the same update rule in one kernel over all parameters
(benchmarks/RESULTS.md, "ACT speed": `bench_act.py --compare-optimizer`, for what it saves).
"""

from __future__ import annotations

import functools

import torch


def backbone_and_rest(model: torch.nn.Module) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """The backbone's trainable parameters and every other parameter."""
    backbone = [p for n, p in model.named_parameters() if n.startswith("backbone.") and p.requires_grad]
    rest = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    return backbone, rest


@functools.cache
def has_fused_adamw(device_type: str) -> bool:
    """Whether this torch has a fused AdamW kernel for the device type (CPU: torch >= 2.4)."""
    try:
        p = torch.zeros(1, device=device_type, requires_grad=True)
        opt = torch.optim.AdamW([p], fused=True)
        p.grad = torch.ones_like(p)
        opt.step()  # where torch checks the device (optim/adam.py: _device_dtype_check_for_fused)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def make_optimizer(
    model: torch.nn.Module, lr: float, backbone_lr: float, weight_decay: float, fused: bool | None = None
) -> torch.optim.AdamW:
    """AdamW over (rest at `lr`, backbone at `backbone_lr`); fused where available unless `fused` says."""
    backbone, rest = backbone_and_rest(model)
    device = next(model.parameters()).device.type
    return torch.optim.AdamW(
        [{"params": rest, "lr": lr}, {"params": backbone, "lr": backbone_lr}],
        weight_decay=weight_decay,
        fused=has_fused_adamw(device) if fused is None else fused,
    )
