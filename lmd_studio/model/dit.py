"""The rectified-flow DiT over codec latent frames, with the LMDM routing (METHOD.md §2).

Input path (all additive, so each part can be absent):
- noisy stream: `A(x_noisy · r) · r` with the routing mask `r` = 1 on target frames, 0 on context frames
  (zeroed before and after the projection, so its bias never reaches the context);
- clean context (stage ≥ 1 only): bias-free `B([c, x_clean · c])` with `c = 1 - r` the context bit;
- frame conditioning (controls, accompaniment): bias-free, on every frame;
- the timestep embedding is added to target frames only.
A global token (timestep + mixed pooled prompt) is appended after the frames; the masks keep context
queries from attending to it, and cross-attention to the text runs on target rows and the global token
only. Hence context hidden states depend on nothing but the context (and its frame conditioning): not on
`t`, not on the prompt, not on the targets — which is what makes the KV caches exact and shareable
between the conditional and unconditional CFG rows.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lmd_studio.model.attention import CrossAttention, FreshKV, SelfAttention, TextKV
from lmd_studio.model.conditioning import TextCondition
from lmd_studio.model.cpu_features import CpuProbe, probe_cpu_features
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.fast_linear import FastLinear, set_inference_dtype
from lmd_studio.model.masks import bidirectional_mask, window_mask
from lmd_studio.model.rope import RotaryTable


@dataclass(slots=True)
class TokenPassCounter:
    """Instrumentation: frame tokens that entered the network (per batch row), and forward passes."""

    frame_tokens: int = 0
    passes: int = 0

    def reset(self) -> None:
        self.frame_tokens = 0
        self.passes = 0


class Block(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm1 = nn.LayerNorm(d)
        self.attn = SelfAttention(d, cfg.n_heads)
        self.norm2 = nn.LayerNorm(d)
        self.cross = CrossAttention(d, cfg.n_heads, cfg.text_dim)
        self.norm3 = nn.LayerNorm(d)
        self.fc1 = FastLinear(d, cfg.mlp_dim, activation="gelu")
        self.fc2 = FastLinear(cfg.mlp_dim, d)

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, text: TextKV, layer: int, *,
                prefix_k: torch.Tensor | None = None, prefix_v: torch.Tensor | None = None,
                kv_buffer: tuple[torch.Tensor, torch.Tensor] | None = None,
                mask: torch.Tensor | None = None, cross_from: int = 0, cross_gate: torch.Tensor | None = None,
                query_start: int = 0) -> tuple[torch.Tensor | None, FreshKV]:
        """h [B, N, D] → (h for rows `query_start:`, this layer's fresh K/V for all N rows).

        Cross-attention applies to rows `cross_from:` (counted in the original N), or, for arbitrary
        routing patterns, to every row scaled by `cross_gate` [B, N, 1] (0 on context rows).
        """
        # modules are called through .forward and norms through F.layer_norm: nn.Module.__call__ costs a few
        # µs per call, which adds up over ~15 calls per layer and K steps per block
        h, fresh = self.attn.forward(_norm(self.norm1, h), h, cos, sin, prefix_k=prefix_k, prefix_v=prefix_v,
                                     kv_buffer=kv_buffer, mask=mask, query_start=query_start)
        if h is None:
            return None, fresh
        cross = self.cross
        if cross_gate is not None:
            h = torch.addcmul(h, cross_gate[:, query_start:], cross.forward(_norm(self.norm2, h), None, text, layer))
        else:
            start = max(0, cross_from - query_start)
            if start == 0:
                h = cross.forward(_norm(self.norm2, h), h, text, layer)
            elif start < h.shape[1]:
                tail = h[:, start:]
                h = torch.cat([h[:, :start], cross.forward(_norm(self.norm2, tail), tail, text, layer)], dim=1)
        return self.fc2.forward(self.fc1.forward(_norm(self.norm3, h)), residual=h), fresh


def _clear_time_memo(module: DiT, incompatible_keys: object) -> None:
    """load_state_dict hook (a named function, so the module still pickles)."""
    module._time_memo.clear()


def _norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of `1000 t` [B] → [B, dim] (the usual DiT scaling of t ∈ [0, 1])."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]  # [B, dim/2]
    return torch.cat([args.cos(), args.sin()], dim=-1)


class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, c = cfg.d_model, cfg.latent_channels
        self.noisy_in = FastLinear(c, d)
        self.context_in = FastLinear(c + 1, d, bias=False) if cfg.routing else None
        self.frame_cond_in = FastLinear(cfg.frame_cond_channels, d, bias=False) if cfg.frame_cond_channels else None
        self.time_in = nn.Linear(cfg.time_freq_dim, d)
        self.time_out = nn.Linear(d, d)
        self.global_in = nn.Linear(d, d)
        self.text_norm = nn.LayerNorm(cfg.text_dim)
        self.text_pool = nn.Linear(cfg.text_dim, d)
        self.null_text = nn.Parameter(torch.zeros(1, cfg.text_dim))
        self.null_pool = nn.Parameter(torch.zeros(cfg.text_dim))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.out_norm = nn.LayerNorm(d)
        self.out = FastLinear(d, c)
        self.rope = RotaryTable(cfg.head_dim, cfg.window_frames + 1, cfg.rope_base)
        self.counter = TokenPassCounter()
        # inference-only memo of t → (timestep embedding, its global-token part): a block's K times recur
        # every block, and the time MLP is ~10 small ops per step. Off in training (see train()).
        self._time_memo: dict[tuple[float, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._memo_on = False
        self.register_load_state_dict_post_hook(_clear_time_memo)
        self.init_weights()

    # --- set-up -----------------------------------------------------------------------------------
    def init_weights(self, std: float = 0.02, generator: torch.Generator | None = None) -> DiT:
        """Normal(0, std) matrices, zero biases, unit norm gains; tests use a larger std for a sharper net."""
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    m.weight.normal_(0.0, std, generator=generator)
                    if m.bias is not None:
                        m.bias.zero_()
                elif isinstance(m, nn.LayerNorm):
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                elif isinstance(m, (SelfAttention, CrossAttention)):
                    m.qk_scale.fill_(m.head_dim ** 0.5)
            self.null_text.normal_(0.0, 1.0, generator=generator)
            self.null_pool.normal_(0.0, 1.0 / math.sqrt(self.cfg.text_dim), generator=generator)
        return self

    def for_inference(self, dtype: torch.dtype | None = torch.float32, pack_rows: int | None = None,
                      probe: CpuProbe = probe_cpu_features) -> DiT:
        """The network to run inference with: this one prepared (float32 / None), or for bfloat16 a bf16
        copy (weights and activations in bf16, inputs cast on the way in, velocities out in float32).
        A copy, because rounding the weights of this network would be lossy for whoever else holds it.
        bfloat16 on a CPU that cannot run it (cpu_features.py) gives this network in float32 instead:
        the caller compares `compute_dtype` with its request to tell the user."""
        features = probe()
        dtype = features.inference_dtype(dtype)
        if dtype == torch.bfloat16:
            twin = copy.deepcopy(self).to(torch.bfloat16)
            return twin.prepare_inference(torch.bfloat16, pack_rows, lambda: features)
        if self.compute_dtype != torch.float32:
            raise ValueError(f"for_inference({dtype}) on a {self.compute_dtype} network: keep the float32 master")
        return self.prepare_inference(dtype, pack_rows, lambda: features)

    def prepare_inference(self, dtype: torch.dtype | None = torch.float32, pack_rows: int | None = None,
                          probe: CpuProbe = probe_cpu_features) -> DiT:
        """eval() + oneDNN weight packing in `dtype` for CPU inference (None: plain F.linear); see
        FastLinear.set_inference_dtype for `pack_rows`."""
        self.eval()
        set_inference_dtype(self, dtype, pack_rows, probe)
        self._time_memo.clear()
        self._memo_on = True
        return self

    def train(self, mode: bool = True) -> DiT:
        if mode:  # weights are about to change: memoised embeddings would go stale
            self._memo_on = False
            self._time_memo.clear()
        return super().train(mode)

    def _apply(self, fn, recurse=True):  # noqa: ANN001 — .to()/.cuda()/.half() invalidate the memo
        self._time_memo.clear()
        return super()._apply(fn, recurse)

    def load_base_weights(self, base_state: dict[str, torch.Tensor]) -> list[str]:
        """Stage 0 → stage 1: copy every base weight; returns the names left fresh (the routing input)."""
        missing, unexpected = self.load_state_dict(base_state, strict=False)
        if unexpected:
            raise ValueError(f"base checkpoint has weights this network lacks: {unexpected[:5]}")
        bad = [m for m in missing if not m.startswith("context_in.")]
        if bad:
            raise ValueError(f"base checkpoint lacks weights: {bad[:5]}")
        return list(missing)

    # --- conditioning -----------------------------------------------------------------------------
    def encode_text(self, cond: TextCondition) -> TextKV:
        """Prompt mixes → per-layer cross-attention K/V (cache this per mix)."""
        b, q, length, e = cond.tokens.shape
        dev = self.null_text.device
        is_null = cond.is_null.to(dev)
        null_tokens = torch.zeros(1, q, length, e, device=dev)
        null_tokens[0, 0, 0] = self.null_text[0].float()
        tokens = torch.where(is_null[:, None, None, None], null_tokens, cond.tokens.to(dev).float())
        first = torch.zeros(q, length, dtype=torch.bool, device=dev)
        first[:, 0] = True  # every slot keeps its first token: an all-masked slot would make softmax NaN
        null_mask = torch.zeros_like(first)
        null_mask[0, 0] = True
        token_mask = torch.where(is_null[:, None, None], null_mask, cond.token_mask.to(dev) | first)
        one_hot = torch.zeros(q, device=dev)
        one_hot[0] = 1.0
        weights = torch.where(is_null[:, None], one_hot, cond.weights.to(dev).float())
        pooled = torch.einsum("bq,bqe->be", weights, cond.pooled.to(dev).float())
        pooled = torch.where(is_null[:, None], self.null_pool[None].float(), pooled).to(self.compute_dtype)
        normed = self.text_norm(tokens.to(self.compute_dtype)).view(b * q, length, e)  # [B·Q, L, E]
        ks, vs = zip(*(blk.cross.text_kv(normed) for blk in self.blocks))
        key_mask = None if bool(token_mask.all()) else token_mask.view(b * q, 1, 1, length)
        weights = weights.to(self.compute_dtype)
        return TextKV(k=tuple(ks), v=tuple(vs), key_mask=key_mask, weights=None if q == 1 else weights,
                      global_embed=self.text_pool(pooled), batch=b, prompts=q)

    @property
    def compute_dtype(self) -> torch.dtype:
        """The weights' dtype; inputs are cast to it on the way in, velocities come out as float32."""
        return self.noisy_in.weight.dtype

    def time_embedding(self, t: torch.Tensor | float, batch: int) -> torch.Tensor:
        """t (float or [B]) → [B, D]."""
        t = torch.as_tensor(t, dtype=torch.float32, device=self.time_in.weight.device).reshape(-1)
        if t.numel() == 1:
            t = t.expand(batch)
        feats = timestep_features(t, self.cfg.time_freq_dim).to(self.compute_dtype)
        return self.time_out(F.silu(self.time_in(feats)))

    def frame_cond_embedding(self, frame_cond: torch.Tensor | None) -> torch.Tensor | None:
        if self.frame_cond_in is None or frame_cond is None:
            return None
        return self.frame_cond_in(frame_cond.to(self.compute_dtype))

    def embed_frames(self, x_noisy: torch.Tensor, x_clean: torch.Tensor | None, is_context: torch.Tensor | None,
                     cond_embed: torch.Tensor | None, temb: torch.Tensor) -> torch.Tensor:
        """Frames [B, N, C] → hidden [B, N, D] through the routed input paths."""
        x_noisy = x_noisy.to(self.compute_dtype)
        if is_context is None or not bool(is_context.any()):
            h = self.noisy_in(x_noisy)
            h = h + temb[:, None] if cond_embed is None else h + cond_embed + temb[:, None]
            return h
        if self.context_in is None:
            raise ValueError("this network has no context input (routing=False); all frames must be noisy")
        ctx = is_context.to(x_noisy.dtype)[..., None]  # [B or 1, N, 1]
        if ctx.dim() == 2:
            ctx = ctx[None]
        r = 1.0 - ctx
        h = self.noisy_in(x_noisy * r) * r
        clean = torch.zeros_like(x_noisy) if x_clean is None else x_clean.to(x_noisy.dtype)
        routed = torch.cat([ctx.expand(*clean.shape[:2], 1), clean * ctx], dim=-1)  # [B, N, C+1]
        h = h + self.context_in(routed)
        if cond_embed is not None:
            h = h + cond_embed
        return torch.addcmul(h, temb[:, None], r)

    def global_token(self, temb: torch.Tensor, text: TextKV, g_time: torch.Tensor | None = None) -> torch.Tensor:
        g_time = self.global_in(temb) if g_time is None else g_time
        return (g_time + text.global_embed)[:, None]  # [B, 1, D]

    def time_and_global(self, t: float, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(time embedding [B, D], its global-token part [B, D]), memoised per t during inference."""
        key = (float(t), batch)
        use_memo = self._memo_on and not self.training and not torch.is_grad_enabled()
        hit = self._time_memo.get(key) if use_memo else None
        if hit is None:
            temb = self.time_embedding(t, batch)
            hit = (temb, self.global_in(temb))
            if use_memo:
                if len(self._time_memo) > 256:
                    self._time_memo.clear()
                self._time_memo[key] = hit
        return hit

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Final norm + projection of frame rows → velocity [B, N, C] (float32)."""
        return self.out.forward(_norm(self.out_norm, h)).float()

    # --- the uncached full-window forward (training, references) -----------------------------------
    def forward(self, x_noisy: torch.Tensor, t: torch.Tensor | float, text: TextKV, *,
                x_clean: torch.Tensor | None = None, is_context: torch.Tensor | None = None,
                frame_cond: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                start_position: int = 0, n_layers: int | None = None, return_hidden: bool = False
                ) -> torch.Tensor:
        """Velocity `v = ε - x0` for every frame [B, T, C] (or hidden states [B, T, D] with return_hidden).

        `is_context` bool [T] or [B, T] (None: all frames noisy); `mask` bool [T+1, T+1] or [B, T+1, T+1]
        including the global token (None: this config's pattern for a `context + block` window, or
        bidirectional); `n_layers` runs only the first layers (the discriminator trunk).
        """
        b, n, _ = x_noisy.shape
        if mask is None:
            mask = self._default_mask(n)
        if mask.shape[-1] != n + 1:
            raise ValueError(f"mask covers {mask.shape[-1]} tokens, expected {n} frames + 1 global token")
        temb = self.time_embedding(t, b)
        h = self.embed_frames(x_noisy, x_clean, is_context, self.frame_cond_embedding(frame_cond), temb)
        h = torch.cat([h, self.global_token(temb, text)], dim=1)  # [B, T+1, D]
        gate = None
        if is_context is not None:
            r = (~is_context.bool()).to(h.dtype)
            r = r.expand(b, n) if r.dim() == 1 else r
            gate = torch.cat([r, torch.ones(b, 1, dtype=h.dtype, device=h.device)], dim=1)[..., None]
        cos, sin = self.rope.tables(start_position, n + 1)
        mask = mask.to(h.device)
        for i, block in enumerate(self.blocks[: n_layers or len(self.blocks)]):
            h, _ = block.forward(h, cos, sin, text, i, mask=mask, cross_gate=gate)
        self.counter.frame_tokens += b * n
        self.counter.passes += 1
        frames = h[:, :n]
        return frames if return_hidden else self.head(frames)

    def _default_mask(self, n_frames: int) -> torch.Tensor:
        cfg = self.cfg
        if cfg.pattern == "bidirectional":
            return bidirectional_mask(n_frames)
        if n_frames != cfg.window_frames:
            raise ValueError(f"{cfg.pattern} forward over {n_frames} frames needs an explicit mask "
                             f"(the default covers s + o = {cfg.window_frames})")
        return window_mask(cfg.pattern, cfg.context_frames, cfg.block_frames, cfg.window_chunks)
