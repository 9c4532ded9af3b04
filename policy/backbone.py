"""ResNet-18/34 feature extractor with frozen batch norm, state_dict keys as torchvision names them.

Ours because torchvision is not a dependency (and its CPU build fails to import against this torch).
The keys match torchvision's (`conv1.weight`, `layer1.0.bn1.running_mean`, `layer2.0.downsample.0.weight`,
...), so `load_imagenet(model, FILE)` takes a local torchvision ImageNet checkpoint unchanged. Batch norm
is frozen (fixed statistics and affine), as in ACT (act: detr/models/backbone.py:94,
`norm_layer=FrozenBatchNorm2d`) and LeRobot (policies/act/modeling_act.py:327): batches of 8 give
noisy statistics. The whole network trains, as in both originals; `freeze_stem_and_layer1` is an
option of ours.
Without ImageNet weights the backbone starts random: it trains, but needs more data and steps to see
as well (the paper fine-tuned ImageNet weights; expect lower success from scratch on small datasets).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from demoforge.schemas.errors import ConfigError

LAYERS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine parameters (buffers, never trained)."""

    weight: Tensor
    bias: Tensor
    running_mean: Tensor
    running_var: Tensor

    def __init__(self, n: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(n))
        self.register_buffer("bias", torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, x: Tensor) -> Tensor:
        # folded into one scale and shift: y = x * s + b
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = FrozenBatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = FrozenBatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), FrozenBatchNorm2d(cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.downsample is None else self.downsample(x)
        return torch.relu(y + skip)


class ResNet(nn.Module):
    """(B, 3, H, W) normalized image -> (B, 8 * width, H / 32, W / 32) feature map."""

    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, name: str = "resnet18", width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = FrozenBatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = width
        for i, n in enumerate(LAYERS[name]):
            cout = width * 2**i
            blocks = [
                BasicBlock(cin if b == 0 else cout, cout, 2 if (i > 0 and b == 0) else 1) for b in range(n)
            ]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            cin = cout
        self.out_channels = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Random init: frozen batch norm normalizes nothing, so 8-16 residual blocks would compound their
        # variance. Each block's last conv starts at zero (its branch adds nothing until trained; the idea
        # of Fixup and zero-init-residual); ImageNet weights, when loaded, replace all of this.
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.conv2.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))  # (B, w, H/4, W/4)
        x = self.layer1(x)  # (B, w, H/4, W/4)
        x = self.layer2(x)  # (B, 2w, H/8, W/8)
        x = self.layer3(x)  # (B, 4w, H/16, W/16)
        return self.layer4(x)  # (B, 8w, H/32, W/32)


def load_imagenet(model: ResNet, path: str | Path) -> None:
    """Load a local torchvision ResNet checkpoint (its `fc` and `num_batches_tracked` are ignored)."""
    p = Path(path)
    fix = "pass a torchvision ResNet state_dict saved with torch.save (e.g. resnet18-f37072fd.pth)"
    if not p.is_file():
        raise ConfigError(f"backbone weights {p} do not exist", fix)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise ConfigError(f"backbone weights {p} cannot be loaded ({e})", fix) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"backbone weights {p} hold no state_dict", fix)
    state = {
        k: v for k, v in state.items() if not k.startswith("fc.") and not k.endswith("num_batches_tracked")
    }
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise ConfigError(f"backbone weights {p} lack {len(missing)} keys, e.g. {missing[0]}", fix)
    for k, v in state.items():
        if k in own and tuple(own[k].shape) != tuple(v.shape):
            raise ConfigError(
                f"backbone weights {p}: {k} has shape {tuple(v.shape)}, the model {tuple(own[k].shape)}",
                "the file is another ResNet depth or width: match model.backbone and backbone_width = 64",
            )
    model.load_state_dict({k: v for k, v in state.items() if k in own})


def freeze_stem_and_layer1(model: ResNet) -> None:
    """Keep conv1 and layer1 as loaded; layer2-4 train. This project's option (`train.freeze_stem`).

    Not what the original does: ACT's loop that would freeze them is commented out ("TODO do we want
    this?", act: detr/models/backbone.py:64-66), and ACT and LeRobot train the whole backbone at its own
    learning rate (act: detr/main.py:80-88; LeRobot 0.4.4: policies/act/modeling_act.py:71-90). Frozen,
    no gradient flows through the two largest feature maps (benchmarks/RESULTS.md, "ACT speed", gives the
    measured saving); pretrained edge and colour filters then stay ImageNet's.
    """
    for p in (*model.conv1.parameters(), *model.layer1.parameters()):
        p.requires_grad_(False)


@torch.no_grad()
def fold_frozen_batchnorm(model: nn.Module) -> None:
    """For inference only: fold every frozen batch norm into the convolution before it (in place).

    y = (conv(x) - mean) * w / sqrt(var + eps) + b is one convolution with scaled weights and a bias,
    which saves a pass over every feature map. The state_dict keys change: fold after loading weights.
    """
    for module in list(model.modules()):
        pairs = []
        if isinstance(module, BasicBlock):
            pairs = [("conv1", "bn1"), ("conv2", "bn2")]
            if isinstance(module.downsample, nn.Sequential):
                pairs.append(("downsample.0", "downsample.1"))
        elif isinstance(module, ResNet):
            pairs = [("conv1", "bn1")]
        for conv_name, bn_name in pairs:
            conv, bn = module.get_submodule(conv_name), module.get_submodule(bn_name)
            if not isinstance(bn, FrozenBatchNorm2d) or not isinstance(conv, nn.Conv2d):
                continue
            scale = bn.weight * (bn.running_var + bn.eps).rsqrt()
            conv.weight.mul_(scale[:, None, None, None])
            shift = bn.bias - bn.running_mean * scale
            conv.bias = nn.Parameter(shift if conv.bias is None else conv.bias * scale + shift)
            parent, _, leaf = bn_name.rpartition(".")
            setattr(module.get_submodule(parent) if parent else module, leaf, nn.Identity())
