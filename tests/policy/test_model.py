"""ACT model: shapes, z = 0 at inference, the masked loss, the backbone's keys."""

from __future__ import annotations

import pytest
import torch

from demoforge.policy.act import ACT, act_loss, count_parameters
from demoforge.policy.backbone import FrozenBatchNorm2d, ResNet, fold_frozen_batchnorm
from demoforge.policy.config import make_config

J, N = 5, 2


def tiny_model() -> ACT:
    torch.manual_seed(0)
    return ACT(make_config("tiny").model, J, N)


def batch(b: int = 3, k: int = 10) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (b, N, 3, 24, 32), generator=g, dtype=torch.uint8)
    is_pad = torch.zeros(b, k, dtype=torch.bool)
    is_pad[0, 6:] = True
    return images, torch.randn(b, J, generator=g), torch.randn(b, k, J, generator=g), is_pad


def test_output_shapes_in_training_and_inference() -> None:
    model = tiny_model()
    images, qpos, actions, is_pad = batch()
    pred, mu, logvar = model(images, qpos, actions, is_pad)
    assert pred.shape == (3, 10, J)
    assert mu is not None and logvar is not None
    assert mu.shape == logvar.shape == (3, 4)
    assert model.predict(images, qpos).shape == (3, 10, J)
    # a different image size gives a different token count, same output shape
    assert model.predict(torch.zeros(1, N, 3, 64, 96, dtype=torch.uint8), qpos[:1]).shape == (1, 10, J)


def test_inference_uses_z_zero_and_is_deterministic() -> None:
    model = tiny_model().eval()
    images, qpos, _, _ = batch()
    torch.manual_seed(1)
    a = model.predict(images, qpos)
    torch.manual_seed(2)
    b = model.predict(images, qpos)
    assert torch.equal(a, b)
    # z = 0 means: the same as decoding from the latent projection of zeros
    pred, mu, logvar = model(images, qpos)
    assert mu is None and logvar is None and torch.equal(pred, a)


def test_training_samples_z_from_the_posterior() -> None:
    model = tiny_model().train()
    images, qpos, actions, is_pad = batch()
    torch.manual_seed(1)
    a = model(images, qpos, actions, is_pad)[0]
    torch.manual_seed(2)
    b = model(images, qpos, actions, is_pad)[0]
    assert not torch.equal(a, b)  # z = mu + std * eps differs with eps


def test_masked_loss_ignores_padding() -> None:
    _, _, actions, is_pad = batch()
    pred = actions + 0.5
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    base = act_loss(pred, actions, is_pad, mu, logvar, beta=10.0)
    assert torch.isclose(base["l1"], torch.tensor(0.5))
    garbage = actions.clone()
    garbage[is_pad] = 1e6  # padded targets are zero-filled in data, anything here must not count
    pred2 = pred.clone()
    pred2[is_pad] = -1e6
    again = act_loss(pred2, garbage, is_pad, mu, logvar, beta=10.0)
    assert torch.equal(base["l1"], again["l1"])
    assert float(base["kl"]) == 0.0  # posterior = prior


def test_kl_is_in_nats_summed_over_the_latent() -> None:
    mu, logvar = torch.ones(2, 4), torch.zeros(2, 4)
    losses = act_loss(
        torch.zeros(2, 3, 1), torch.zeros(2, 3, 1), torch.zeros(2, 3, dtype=torch.bool), mu, logvar, 2.0
    )
    assert torch.isclose(losses["kl"], torch.tensor(2.0))  # 0.5 * mu^2 per dim, 4 dims
    assert torch.isclose(losses["loss"], torch.tensor(4.0))


def test_masked_loss_gradient_does_not_reach_padded_predictions() -> None:
    _, _, actions, is_pad = batch()
    pred = torch.zeros_like(actions, requires_grad=True)
    act_loss(pred, actions, is_pad, torch.zeros(3, 4), torch.zeros(3, 4), 10.0)["loss"].backward()
    assert pred.grad is not None
    assert torch.all(pred.grad[is_pad] == 0) and torch.all(pred.grad[~is_pad] != 0)


def test_backbone_state_dict_uses_torchvision_names() -> None:
    keys = set(ResNet("resnet18").state_dict())
    for k in (
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv2.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_mean",
        "layer4.1.bn2.bias",
    ):
        assert k in keys
    assert not any("num_batches_tracked" in k or k.startswith("fc.") for k in keys)
    assert sum("conv" in k for k in ResNet("resnet34").state_dict()) == 33  # 1 + 2 * (3+4+6+3)


def test_folding_batch_norm_into_the_convolutions_keeps_the_output() -> None:
    torch.manual_seed(0)
    net = ResNet("resnet18", 8)
    for m in net.modules():  # statistics and affine as ImageNet weights would have them
        if isinstance(m, FrozenBatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
            m.running_mean.normal_()
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_()
        elif isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.1)
    x = torch.randn(2, 3, 64, 96)
    before = net(x)
    fold_frozen_batchnorm(net)
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in net.modules())
    torch.testing.assert_close(net(x), before, rtol=1e-4, atol=1e-4)


def test_paper_configuration_parameter_counts() -> None:
    model = ACT(make_config("paper").model, 14, 3)
    total, rest = count_parameters(model)
    # torchvision's ResNet-18 has 11,689,512: less fc (513,000) and batch-norm affine (9,600: buffers here)
    assert total - rest == 11_166_912
    assert 35e6 < rest < 45e6


def test_queries_token_positions_and_cls_start_at_unit_normal_as_the_original() -> None:
    # act: detr/models/detr_vae.py:54,68,76 (nn.Embedding, untouched by transformer.py:44-47's Xavier);
    # an earlier init gave them std 0.006 (queries), 0.06 (token_pos), 0.04 (cls)
    torch.manual_seed(0)
    model = ACT(make_config("paper").model, 14, 1)
    for name in ("queries", "token_pos", "cls"):
        p = getattr(model, name).detach()
        assert 0.9 < float(p.std()) < 1.1, (name, float(p.std()))
        assert abs(float(p.mean())) < 0.2, name
    # the transformer's own weights keep Xavier: std sqrt(2 / (fan_in + fan_out)) = 1/sqrt(512) here
    w = model.enc_layers[0].attn.q.weight.detach()
    assert abs(float(w.std()) * 512**0.5 - 1) < 0.05


def test_bf16_chunk_of_the_paper_network_is_within_3_percent_of_a_joints_std() -> None:
    # outputs are normalized actions (std 1 per joint), so the difference is in units of a joint's std;
    # measured at 96x128 over 3 seeds: 1.1-1.3 % (benchmarks/RESULTS.md states this bound)
    torch.manual_seed(0)
    model = ACT(make_config("paper", {"model": {"image_height": 96, "image_width": 128}}).model, 14, 1).eval()
    fold_frozen_batchnorm(model.backbone)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1, 1, 3, 96, 128), generator=g, dtype=torch.uint8)
    qpos = torch.randn(1, 14, generator=g)
    full = model.predict(images, qpos)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = model.predict(images, qpos).float()
    assert 0 < float((half - full).abs().max()) < 0.03


def test_imagenet_weights_in_torchvision_layout_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from demoforge.policy.backbone import load_imagenet
    from demoforge.schemas.errors import ConfigError

    torch.manual_seed(5)
    source = ResNet("resnet18")
    state = {k: torch.randn_like(v) for k, v in source.state_dict().items()}
    # what torchvision's file also holds: the classifier and batch-norm step counters
    state |= {"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    state |= {
        k.replace("running_var", "num_batches_tracked"): torch.tensor(7) for k in state if "running_var" in k
    }
    torch.save(state, tmp_path / "resnet18.pth")
    target = ResNet("resnet18")
    load_imagenet(target, tmp_path / "resnet18.pth")
    assert torch.equal(target.state_dict()["layer3.1.conv2.weight"], state["layer3.1.conv2.weight"])
    assert torch.equal(target.state_dict()["bn1.running_mean"], state["bn1.running_mean"])
    with pytest.raises(ConfigError, match="lack"):
        load_imagenet(ResNet("resnet34"), tmp_path / "resnet18.pth")
    with pytest.raises(ConfigError, match="shape"):
        load_imagenet(ResNet("resnet18", width=32), tmp_path / "resnet18.pth")
