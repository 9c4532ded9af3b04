"""ACT (Action Chunking with Transformers), in the order data flows.

Training:   [CLS, qpos, actions] -> CVAE encoder -> (mu, logvar) -> z = mu + std * eps
Inference:  z = 0 (the prior's mean): the same observation always gives the same chunk.
Then:       images -> ResNet per camera -> 1x1 conv -> tokens (+ 2-D sine positions)
            [z token, qpos token, camera tokens] -> transformer encoder -> memory
            k learned queries -> transformer decoder (cross-attends memory) -> k actions.
Loss:       L1 on the non-padded actions + beta * KL(q(z | actions, qpos) || N(0, I)).

Shapes: B batch, N cameras, J joints, k chunk size, D hidden, S tokens. qpos and actions are
normalized (data.py); images come in as uint8 RGB and are normalized here (ImageNet statistics,
which is what ImageNet backbone weights expect).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from demoforge.policy.backbone import ResNet
from demoforge.policy.config import ModelConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# -- position embeddings ------------------------------------------------------------------------------


def sine_table_1d(n: int, d: int) -> Tensor:
    """(n, d) fixed sinusoid table: positions 0..n-1 of the CVAE encoder's sequence."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float32) / d)[None, :]
    table = torch.zeros(n, d)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[:, : d // 2])
    return table


def sine_table_2d(h: int, w: int, d: int) -> Tensor:
    """(h * w, d) fixed 2-D sine embedding of a feature map: half the channels for y, half for x."""
    half = d // 2
    ys = (torch.arange(h, dtype=torch.float32) + 1) / h * 2 * math.pi  # normalized to (0, 2 pi]
    xs = (torch.arange(w, dtype=torch.float32) + 1) / w * 2 * math.pi
    freq = torch.pow(10000.0, 2 * (torch.arange(half) // 2).float() / half)  # (half,)
    py, px = ys[:, None] / freq, xs[:, None] / freq  # (h, half), (w, half)
    py = torch.stack([py[:, 0::2].sin(), py[:, 1::2].cos()], dim=2).flatten(1)
    px = torch.stack([px[:, 0::2].sin(), px[:, 1::2].cos()], dim=2).flatten(1)
    pos = torch.cat([py[:, None, :].expand(h, w, half), px[None, :, :].expand(h, w, half)], dim=2)
    return pos.reshape(h * w, d)


# -- transformer --------------------------------------------------------------------------------------


class Attention(nn.Module):
    """Multi-head attention; positions are added to queries and keys by the caller, not to values."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

    def forward(self, q: Tensor, k: Tensor, v: Tensor, pad: Tensor | None = None) -> Tensor:
        B, Sq, D = q.shape  # q (B, Sq, D); k, v (B, Sk, D); pad (B, Sk) True = ignore
        H = self.heads
        q = self.q(q).view(B, Sq, H, D // H).transpose(1, 2)  # (B, H, Sq, D/H)
        k = self.k(k).view(B, -1, H, D // H).transpose(1, 2)  # (B, H, Sk, D/H)
        v = self.v(v).view(B, -1, H, D // H).transpose(1, 2)
        mask = None if pad is None else ~pad[:, None, None, :]  # (B, 1, 1, Sk) True = attend
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(B, Sq, D))  # (B, Sq, D)


class FeedForward(nn.Sequential):
    def __init__(self, d: int, ff: int, dropout: float) -> None:
        super().__init__(nn.Linear(d, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, d))


class EncoderLayer(nn.Module):
    """Post-norm self-attention layer (as DETR and ACT): positions re-added to q and k in every layer."""

    def __init__(self, d: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.attn = Attention(d, heads, dropout)
        self.ff = FeedForward(d, ff, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, pos: Tensor, pad: Tensor | None = None) -> Tensor:
        qk = x + pos  # (B, S, D)
        x = self.norm1(x + self.drop(self.attn(qk, qk, x, pad)))
        return self.norm2(x + self.drop(self.ff(x)))


class DecoderLayer(nn.Module):
    """Self-attention over the queries, cross-attention into the encoder's memory, feed-forward."""

    def __init__(self, d: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = Attention(d, heads, dropout)
        self.cross_attn = Attention(d, heads, dropout)
        self.ff = FeedForward(d, ff, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, query_pos: Tensor, memory: Tensor, pos: Tensor) -> Tensor:
        qk = x + query_pos  # (B, k, D)
        x = self.norm1(x + self.drop(self.self_attn(qk, qk, x)))
        x = self.norm2(x + self.drop(self.cross_attn(x + query_pos, memory + pos, memory)))
        return self.norm3(x + self.drop(self.ff(x)))


# -- the policy ---------------------------------------------------------------------------------------


class ACT(nn.Module):
    vae_pos: Tensor
    img_mean: Tensor
    img_std: Tensor

    def __init__(self, cfg: ModelConfig, n_joints: int, n_cameras: int) -> None:
        super().__init__()
        D, k, J = cfg.hidden, cfg.chunk_size, n_joints
        self.cfg, self.n_joints, self.n_cameras = cfg, n_joints, n_cameras
        layer = lambda: EncoderLayer(D, cfg.heads, cfg.ff, cfg.dropout)  # noqa: E731
        # CVAE encoder (training only)
        self.cls = nn.Parameter(torch.zeros(1, 1, D))
        self.vae_qpos = nn.Linear(J, D)
        self.vae_action = nn.Linear(J, D)
        self.register_buffer("vae_pos", sine_table_1d(k + 2, D)[None], persistent=False)  # (1, k+2, D)
        self.vae_layers = nn.ModuleList(layer() for _ in range(cfg.vae_layers))
        self.to_latent = nn.Linear(D, 2 * cfg.latent)  # -> mu, logvar
        # observation encoder
        self.backbone = ResNet(cfg.backbone, cfg.backbone_width)
        self.image_proj = nn.Conv2d(self.backbone.out_channels, D, 1)
        self.qpos_proj = nn.Linear(J, D)
        self.latent_proj = nn.Linear(cfg.latent, D)
        self.token_pos = nn.Parameter(torch.zeros(2, D))  # learned positions of the [z, qpos] tokens
        self.enc_layers = nn.ModuleList(layer() for _ in range(cfg.enc_layers))
        # decoder
        self.queries = nn.Parameter(torch.zeros(1, k, D))  # learned query positions, one per action
        self.dec_layers = nn.ModuleList(
            DecoderLayer(D, cfg.heads, cfg.ff, cfg.dropout) for _ in range(cfg.dec_layers)
        )
        self.dec_norm = nn.LayerNorm(D)
        self.action_head = nn.Linear(D, J)
        self.register_buffer("img_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("img_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)
        self._pos_cache: dict[tuple[int, int, str], Tensor] = {}
        # Initialisation as the original. Its CLS token, [z, qpos] positions and query positions are
        # nn.Embedding tables, so they start at N(0, 1) (act: detr/models/detr_vae.py:54,68,76; LeRobot
        # 0.4.4: policies/act/modeling_act.py:299,359,365). Only the transformer's own weights get Xavier
        # (act: detr/models/transformer.py:44-47; LeRobot: modeling_act.py:372-376); projections keep
        # PyTorch's default init. The CVAE encoder's layers get Xavier too: this project's choice (the
        # originals leave their CVAE encoder at PyTorch's per-module defaults).
        for stack in (self.vae_layers, self.enc_layers, self.dec_layers):
            for p in stack.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
        for p in (self.cls, self.token_pos, self.queries):
            nn.init.normal_(p)  # std 1: the decoder's input is zeros, these tell its k slots apart

    def encode_actions(self, qpos: Tensor, actions: Tensor, is_pad: Tensor) -> tuple[Tensor, Tensor]:
        """CVAE encoder: (B, J), (B, k, J), (B, k) -> mu, logvar (B, latent)."""
        B = qpos.shape[0]
        x = torch.cat(
            [self.cls.expand(B, -1, -1), self.vae_qpos(qpos)[:, None], self.vae_action(actions)], dim=1
        )  # (B, k+2, D)
        pad = torch.cat([is_pad.new_zeros(B, 2), is_pad], dim=1)  # CLS and qpos are never padding
        for layer in self.vae_layers:
            x = layer(x, self.vae_pos, pad)
        mu, logvar = self.to_latent(x[:, 0]).chunk(2, dim=-1)  # from the CLS token
        return mu, logvar

    def _image_pos(self, h: int, w: int, like: Tensor) -> Tensor:
        key = (h, w, str(like.device))
        if key not in self._pos_cache:
            self._pos_cache[key] = sine_table_2d(h, w, self.cfg.hidden).to(like.device)
        return self._pos_cache[key].to(like.dtype)

    def forward(
        self, images: Tensor, qpos: Tensor, actions: Tensor | None = None, is_pad: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(B, N, 3, H, W) uint8, (B, J) [, (B, k, J), (B, k)] -> actions (B, k, J), mu, logvar.

        With actions (training): z sampled from the CVAE posterior. Without (inference): z = 0.
        """
        B, N = images.shape[:2]
        D = self.cfg.hidden
        mu: Tensor | None
        logvar: Tensor | None
        if actions is not None:
            assert is_pad is not None
            mu, logvar = self.encode_actions(qpos, actions, is_pad)
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)  # (B, latent)
        else:
            mu = logvar = None
            z = qpos.new_zeros(B, self.cfg.latent)
        # every camera through the one backbone, as one batch
        x = images.flatten(0, 1).to(qpos.dtype)  # (B*N, 3, H, W)
        x = ((x - self.img_mean) / self.img_std).contiguous(memory_format=torch.channels_last)
        feats = self.image_proj(self.backbone(x))  # (B*N, D, h, w)
        h, w = feats.shape[-2:]
        cam_tokens = feats.flatten(2).transpose(1, 2).reshape(B, N * h * w, D)  # (B, N*h*w, D)
        cam_pos = self._image_pos(h, w, feats).repeat(N, 1)[None]  # (1, N*h*w, D), same grid per camera
        tokens = torch.cat([self.latent_proj(z)[:, None], self.qpos_proj(qpos)[:, None], cam_tokens], dim=1)
        pos = torch.cat([self.token_pos[None].to(cam_pos.dtype), cam_pos], dim=1)  # (1, S, D)
        for layer in self.enc_layers:
            tokens = layer(tokens, pos)  # (B, S, D)
        out = torch.zeros_like(self.queries).expand(B, -1, -1)  # (B, k, D)
        for dec in self.dec_layers:
            out = dec(out, self.queries, tokens, pos)
        return self.action_head(self.dec_norm(out)), mu, logvar  # (B, k, J)

    @torch.inference_mode()
    def predict(self, images: Tensor, qpos: Tensor) -> Tensor:
        """One chunk per observation with z = 0: (B, N, 3, H, W) uint8, (B, J) -> (B, k, J)."""
        return self(images, qpos)[0]


def act_loss(
    pred: Tensor, actions: Tensor, is_pad: Tensor, mu: Tensor, logvar: Tensor, beta: float
) -> dict[str, Tensor]:
    """L1 over the non-padded actions (a masked mean) + beta * KL in nats, summed over latent dims."""
    keep = (~is_pad)[..., None].to(pred.dtype)  # (B, k, 1)
    l1 = ((pred - actions).abs() * keep).sum() / (keep.sum() * pred.shape[-1]).clamp(min=1)
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(-1).mean()
    return {"loss": l1 + beta * kl, "l1": l1, "kl": kl}


def count_parameters(model: ACT) -> tuple[int, int]:
    """(all parameters, parameters outside the backbone)."""
    total = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.parameters())
    return total, total - backbone
