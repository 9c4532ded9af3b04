"""The optimizer: the two parameter groups, the fused kernel, and checkpoints written before it."""

from __future__ import annotations

import copy

import torch

from demoforge.policy.act import ACT
from demoforge.policy.backbone import freeze_stem_and_layer1
from demoforge.policy.config import make_config
from demoforge.policy.optim import has_fused_adamw, make_optimizer


def tiny(seed: int = 0) -> ACT:
    torch.manual_seed(seed)
    return ACT(make_config("tiny").model, n_joints=4, n_cameras=1)


def fake_grads(model: torch.nn.Module, step: int) -> None:
    g = torch.Generator().manual_seed(step)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.randn(p.shape, generator=g)


def largest_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters(), strict=True))


def train_steps(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: range) -> None:
    for s in steps:
        fake_grads(model, s)
        opt.step()


def test_groups_hold_every_trainable_parameter_once_at_their_rates() -> None:
    model = tiny()
    freeze_stem_and_layer1(model.backbone)
    opt = make_optimizer(model, lr=1e-4, backbone_lr=3e-5, weight_decay=1e-4)
    rest, backbone = opt.param_groups
    assert (rest["lr"], backbone["lr"], rest["weight_decay"]) == (1e-4, 3e-5, 1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].startswith("backbone.") for p in backbone["params"])
    assert not any(names[id(p)].startswith("backbone.") for p in rest["params"])
    grouped = [id(p) for g in opt.param_groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable) and len(set(grouped)) == len(grouped)


def test_fused_on_this_cpu_and_the_same_update_as_torchs_default() -> None:
    assert has_fused_adamw("cpu")  # torch >= 2.4, and the pinned torch is 2.13
    a, b = tiny(), tiny()
    fused = make_optimizer(a, 1e-3, 5e-4, 1e-2)
    plain = make_optimizer(b, 1e-3, 5e-4, 1e-2, fused=False)
    assert fused.defaults["fused"] and not plain.defaults["fused"]
    train_steps(a, fused, range(20))
    train_steps(b, plain, range(20))
    moved = largest_difference(a, b)
    travel = largest_difference(a, tiny())
    # 20 steps at lr 1e-3 move a weight up to ~2e-2; the two kernels agree to float32 rounding
    assert travel > 1e-2 and moved < 1e-6


def test_a_checkpoint_of_the_unfused_optimizer_resumes_in_the_fused_one() -> None:
    # last.pt files written before the fused optimizer hold the for-loop AdamW's state
    old = tiny()
    old_opt = make_optimizer(old, 1e-3, 1e-3, 1e-2, fused=False)
    train_steps(old, old_opt, range(5))
    # copies, as a file holds them (a state_dict shares the live tensors)
    saved_model, saved_opt = copy.deepcopy(old.state_dict()), copy.deepcopy(old_opt.state_dict())
    train_steps(old, old_opt, range(5, 10))  # what the old run would have done next

    new = tiny(seed=1)
    new.load_state_dict(saved_model)
    new_opt = make_optimizer(new, 1e-3, 1e-3, 1e-2)
    new_opt.load_state_dict(saved_opt)
    train_steps(new, new_opt, range(5, 10))
    assert new_opt.state_dict()["state"][0]["step"].item() == 10
    assert largest_difference(new, old) < 1e-6
