"""`TorchBlockGenerator`: the LMDM streaming model behind the engine's BlockGenerator protocol.

Per block: controls → sampler settings, prompt mix → cached text K/V, knobs → frame conditioning; the
block's denoiser (streaming.py) runs K sampler steps; the codec decodes the new latents; a new immutable
state is returned. The state passed in is never mutated (tensors are only ever replaced), so the engine
can rewind to any state it kept. Noise is seeded per (seed, block index): the same state and controls give
the same block, bit for bit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmd_studio.core.compute import ComputeInfo
from lmd_studio.core.generator import BlockControls
from lmd_studio.core.musical_clock import stream_clock_channels
from lmd_studio.core.params import (
    BRIGHTNESS,
    DENSITY,
    GUIDANCE,
    LOUDNESS,
    PITCH,
    PROGRESSION,
    SEED,
    STEPS,
    TEMPERATURE,
    ParamSpec,
)
from lmd_studio.core.progression import frame_bars
from lmd_studio.model.attention import TextKV
from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.model.conditioning import (
    TextCondition,
    frame_conditioning,
    guided_target_rows,
    progression_chroma_frames,
    prompt_mix_condition,
)
from lmd_studio.model.cpu_features import CpuFeatures, CpuProbe, bf16_fallback_note, probe_cpu_features
from lmd_studio.model.dit import DiT
from lmd_studio.model.model_io import CodecLoader, GeneratorConfig, load_model_folder
from lmd_studio.model.partner_track import PartnerEncoder, PartnerTrack, stale_chunks
from lmd_studio.model.samplers import SamplerSpec
from lmd_studio.model.streaming import BlockCausalBlock, LatentStreamState, make_block_denoiser
from lmd_studio.model.text_encoder import MiniLMTextEncoder, TextEncoder

_MASK64 = (1 << 64) - 1


def block_seed(seed: int, block_index: int) -> int:
    """A well-mixed 63-bit seed per (seed, block) (splitmix64), so neighbouring seeds share no noise."""
    z = (seed * 0x9E3779B97F4A7C15 + block_index * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) >> 1


@dataclass(frozen=True, slots=True)
class TorchGeneratorState:
    seed: int
    stream: LatentStreamState
    decode_state: Any
    clock_beats: float = 0.0  # beat count at the next block's first frame (models with a musical clock)
    partner: PartnerTrack | None = None  # jam mode: the partner's latents heard so far (partner_track.py)
    # block-causal: the partner cut-off each cached chunk was encoded under (None: no partner then)
    chunk_cut_offs: tuple[int | None, ...] = ()

    @property
    def block_index(self) -> int:
        return self.stream.blocks_done


def _aligned(cut_offs: tuple[int | None, ...], cache: Any) -> tuple[int | None, ...]:
    """One cut-off per cached chunk, oldest first; chunks cached without a record count as partner-less."""
    n = 0 if cache is None else int(cache.n_chunks)
    known = cut_offs[max(0, len(cut_offs) - n):] if n else ()
    return (None,) * (n - len(known)) + known


class TorchBlockGenerator:
    """Implements lmd_studio.core.generator.BlockGenerator with a DiT + a LatentCodec."""

    def __init__(self, dit: DiT, codec: LatentCodec, text_encoder: TextEncoder, *,
                 config: GeneratorConfig | None = None, name: str = "lmdm", device: str | torch.device = "cpu",
                 inference_dtype: torch.dtype | None = torch.float32, threads: int | None = None,
                 text_cache_size: int = 16, cpu_probe: CpuProbe = probe_cpu_features) -> None:
        cfg = dit.cfg
        self.config = config or GeneratorConfig()
        if codec.latent_channels != cfg.latent_channels:
            raise ValueError(f"codec has {codec.latent_channels} latent channels, the DiT expects {cfg.latent_channels}")
        if text_encoder.dim != cfg.text_dim:
            raise ValueError(f"text encoder gives {text_encoder.dim}-d tokens, the DiT expects {cfg.text_dim}")
        if self.config.mode != "naive" and not cfg.routing:
            raise ValueError(f"a model without the context input (stage 0) cannot stream in mode "
                             f"{self.config.mode!r}; use mode 'naive'")
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.device = torch.device(device)
        on_cpu = self.device.type == "cpu"
        # CPU: bf16 means oneDNN-packed bf16 weights where the CPU runs them, else fp32 and `dtype_note`
        # says so (one line for the caller to show); GPU: the same request is served by autocast
        self.dtype_note: str | None = None
        self._features: CpuFeatures | None = None
        if on_cpu:
            features = self._features = cpu_probe()
            self.dtype_note = bf16_fallback_note(inference_dtype, features)
            self.dit = dit.to(self.device).for_inference(inference_dtype, probe=lambda: features)
        else:
            self.dit = dit.to(self.device).for_inference(None)
        self._autocast = (not on_cpu) and inference_dtype == torch.bfloat16
        self.codec = codec
        self.text_encoder = text_encoder
        self._name = name
        self._text_cache: OrderedDict[tuple, TextKV] = OrderedDict()
        self._text_cache_size = text_cache_size
        self._lock = threading.Lock()  # the text cache may be touched by a preview thread
        self._weights_lock = threading.Lock()  # set_adapter rewrites weights between blocks, never during one
        self._adapters = None  # model/lora.py AdapterMixer, created on the first set_adapter

    @classmethod
    def from_folder(cls, folder: str | Path, *, threads: int | None = 2, codec_loader: CodecLoader | None = None,
                    text_encoder: TextEncoder | None = None, device: str | torch.device = "cpu",
                    inference_dtype: torch.dtype | None = torch.float32,
                    cpu_probe: CpuProbe = probe_cpu_features) -> TorchBlockGenerator:
        dit, gen_cfg, codec = load_model_folder(folder, codec_loader=codec_loader, device=device)
        encoder = text_encoder or MiniLMTextEncoder(max_tokens=dit.cfg.max_text_tokens)
        return cls(dit, codec, encoder, config=gen_cfg, name=Path(folder).name, device=device,
                   inference_dtype=inference_dtype, threads=threads, cpu_probe=cpu_probe)

    def compute_info(self) -> ComputeInfo:
        """What this model computes on, as plain values (core/compute.py): the CPU features it was set up
        with (the probe it was given), the dtype its network really runs in and torch's threads now."""
        f = self._features
        return ComputeInfo(device=self.device.type, isa=f.isa if f else "", onednn=bool(f and f.onednn),
                           bf16_supported=bool(f and f.bf16_matmul),
                           dtype=str(self.dit.compute_dtype).removeprefix("torch."),
                           threads=max(1, torch.get_num_threads()), torch_version=str(torch.__version__))

    @property
    def cached_text_mixes(self) -> int:
        """Prompt mixes whose cross-attention K/V are cached now (at most `text_cache_size`)."""
        with self._lock:
            return len(self._text_cache)

    # --- BlockGenerator properties ------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return int(self.codec.sample_rate)

    @property
    def channels(self) -> int:
        return int(self.codec.audio_channels)

    @property
    def block_frames(self) -> int:
        return self.dit.cfg.block_frames * int(self.codec.hop_frames)

    @property
    def context_frames(self) -> int:
        return self.dit.cfg.context_frames * int(self.codec.hop_frames)

    @property
    def name(self) -> str:
        return self._name

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (GUIDANCE, TEMPERATURE, STEPS, SEED, LOUDNESS, BRIGHTNESS, DENSITY, PITCH, PROGRESSION)

    # --- generation -----------------------------------------------------------------------------------
    def init_state(self, seed: int) -> TorchGeneratorState:
        return TorchGeneratorState(int(seed), LatentStreamState.start(self.dit, self.device),
                                   self.codec.init_decode_state(1))

    def sampler_spec(self, controls: BlockControls) -> SamplerSpec:
        steps = int(controls.values.get(STEPS.name, self.config.default_steps))
        return SamplerSpec(self.config.sampler, int(STEPS.clamp(steps)), controls.value(GUIDANCE),
                           controls.value(TEMPERATURE))

    def text_kv(self, mix: tuple[tuple[str, float], ...], guidance: float) -> TextKV:
        """Cross-attention K/V for a prompt mix, cached per (mix, CFG layout)."""
        layout = "uncond" if guidance == 0.0 or not mix else ("cfg" if guidance != 1.0 else "cond")
        key = (mix if layout != "uncond" else (), layout)
        with self._lock:
            hit = self._text_cache.get(key)
            if hit is not None:
                self._text_cache.move_to_end(key)
                return hit
        null = TextCondition.null(self.text_encoder.dim)
        if layout == "uncond":
            cond = null
        else:
            cond = prompt_mix_condition(self.text_encoder, mix)
            if layout == "cfg":
                cond = TextCondition.stack([cond, null])  # row 0 conditional, row 1 unconditional
        kv = self.dit.encode_text(cond)
        with self._lock:
            self._text_cache[key] = kv
            while len(self._text_cache) > self._text_cache_size:
                self._text_cache.popitem(last=False)
        return kv

    def generate_latents(self, state: TorchGeneratorState, controls: BlockControls
                         ) -> tuple[torch.Tensor, TorchGeneratorState]:
        """One block of latents [1, o, C] and the next state (no decoding)."""
        cfg = self.dit.cfg
        spec = self.sampler_spec(controls)
        seed = int(controls.value(SEED)) if SEED.name in controls.values else state.seed
        gen = torch.Generator(device=self.device).manual_seed(block_seed(seed, state.block_index))
        text = self.text_kv(controls.prompt_mix, spec.guidance)
        if text.batch == 1 and spec.uses_cfg:
            spec = SamplerSpec(spec.name, spec.steps, 1.0, spec.temperature)  # one row: nothing to guide
        clock, clock_beats, bars = None, state.clock_beats, None
        rate_hz = self.codec.sample_rate / self.codec.hop_frames
        start = state.clock_beats if controls.bar_position_beats is None else controls.bar_position_beats
        if cfg.clock_channels:
            channels, clock_beats = stream_clock_channels(start, cfg.block_frames, rate_hz, controls.bpm,
                                                          controls.beats_per_bar)
            clock = torch.from_numpy(channels)
        if controls.bpm is not None and cfg.control_channels:
            # the bars of this block's frames, for a progression: the engine says which bar the block starts
            # in; an offline render counts bars from the stream's start (its beat count runs on in the state)
            first_bar = controls.bar_number if (controls.bar_position_beats is not None
                                                and controls.bar_number is not None) else 0
            bars = frame_bars(start, cfg.block_frames, rate_hz, controls.bpm, controls.beats_per_bar, first_bar)
            clock_beats = start + controls.bpm / 60.0 / rate_hz * cfg.block_frames
        chroma_frames = progression_chroma_frames(controls, bars)
        target_cond = frame_conditioning(cfg, cfg.block_frames, controls, clock=clock,
                                         chroma_frames=chroma_frames)[None]
        context_cond, refresh, cut_off = self._partner_context(state)
        if cut_off is not None and state.partner is not None and cut_off > state.block_index * cfg.block_frames:
            # generative delay: the partner reaches into the block (training put it there too)
            a0 = cfg.control_channels
            target_cond[0, :, a0:a0 + cfg.accomp_channels] = state.partner.features(
                state.block_index * cfg.block_frames, cfg.block_frames, cut_off)
        target_cond = target_cond.to(self.device)
        # guided: row 1 (the unguided one) hears the pitch control on Auto too, so Guidance makes the key and
        # held chords decisive as well as the prompt; the stream keeps row 0, what was asked
        rows = guided_target_rows(target_cond, text.batch) if cfg.control_channels else target_cond
        # with a partner, older chunks stay cached so re-encoded ones still see their W - 1 predecessors
        keep = 2 * cfg.cached_chunks if state.partner is not None else None
        denoiser = make_block_denoiser(self.dit, self.config.mode, state.stream, text, rows, gen,
                                       context_cond=context_cond, refresh_chunks=refresh, keep_chunks=keep)
        latents = spec.run(denoiser, (1, cfg.block_frames, cfg.latent_channels), gen, device=self.device)
        cuts = state.chunk_cut_offs
        if isinstance(denoiser, BlockCausalBlock):
            cache = denoiser.new_cache
            encoded = denoiser.pending_chunks  # the pending chunk and any re-encoded ones, under `cut_off`
            if encoded:
                joined = _aligned(cuts, state.stream.cache)[:-(encoded - 1) or None] + (cut_off,) * encoded
                cuts = joined[max(0, len(joined) - denoiser.keep_chunks):] if denoiser.keep_chunks else ()
        else:
            cache = state.stream.cache
        stream = state.stream.advanced(latents, target_cond, cfg.context_frames, cache)
        return latents, TorchGeneratorState(state.seed, stream, state.decode_state, clock_beats, state.partner,
                                            cuts)

    # --- jam mode -------------------------------------------------------------------------------------
    @property
    def jam_trained(self) -> bool:
        """Whether this model's accompaniment channels were trained (else partner audio means nothing)."""
        return bool(self.dit.cfg.accomp_channels) and self.config.jam_trained

    @property
    def delay_trained(self) -> bool:
        """Whether this model learned generative delay: playing back a partner lined up with it, re-voiced."""
        return bool(self.dit.cfg.accomp_channels) and self.config.delay_trained

    def partner_encoder(self) -> PartnerEncoder:
        """Turns partner audio (the codec's rate and channels) into latent frames as it arrives."""
        return PartnerEncoder(self.codec)

    def hear_partner(self, state: TorchGeneratorState, latents: torch.Tensor, start_frame: int | None = None,
                     reach_frames: int = 0, shift_frames: int = 0) -> TorchGeneratorState:
        """The state with partner latents [m, C] heard; the first call places them at stream latent frame
        `start_frame` (default 0), later calls append. A new state: the old one is unchanged.
        `reach_frames`, `shift_frames` (first call only): generative delay's track (model/partner_track.py)."""
        cfg = self.dit.cfg
        keep = cfg.context_frames + 8 * cfg.block_frames  # the context and what may arrive ahead of it
        track = state.partner
        if track is None:
            track = PartnerTrack.empty(cfg.latent_channels, 0 if start_frame is None else int(start_frame),
                                       reach_frames, shift_frames)
        elif start_frame is not None and start_frame != track.end_frame:
            raise ValueError(f"partner latents must continue at frame {track.end_frame}, got {start_frame}")
        return replace(state, partner=track.heard(latents.detach().cpu(), keep))

    def _partner_context(self, state: TorchGeneratorState) -> tuple[torch.Tensor | None, int, int | None]:
        """The context's conditioning with the partner features visible now, how many cached chunks to
        re-encode because of them, and the cut-off (None: no partner, nothing changes)."""
        cfg, track = self.dit.cfg, state.partner
        if track is None or not cfg.accomp_channels:
            return None, 0, None
        o = cfg.block_frames
        start = state.block_index * o
        cut_off = track.cut_off(start)
        ctx = state.stream.context_cond
        n_ctx = int(ctx.shape[1])
        a0 = cfg.control_channels
        context_cond = ctx.clone()
        context_cond[0, :, a0:a0 + cfg.accomp_channels] = track.features(start - n_ctx, n_ctx, cut_off).to(ctx)
        refresh = 0
        cache = state.stream.cache
        if self.config.mode == "blockcausal" and cache is not None and state.block_index > 0:
            first_cached = start - o - cache.n_chunks * o  # cached chunks end where the pending block starts
            refresh = stale_chunks(track, _aligned(state.chunk_cut_offs, cache), first_cached, o, cut_off)
        return context_cond, refresh, cut_off

    def generate_block(self, state: TorchGeneratorState, controls: BlockControls
                       ) -> tuple[np.ndarray, TorchGeneratorState]:
        with self._weights_lock, torch.inference_mode(), \
                torch.autocast(self.device.type, torch.bfloat16, enabled=self._autocast):
            latents, nxt = self.generate_latents(state, controls)
            latents = latents.float().cpu()  # the codec decodes on the CPU (phase reconstruction in numpy)
            audio, decode_state = self.codec.decode_block(latents, state.decode_state)  # [1, ch, o·hop]
            out = audio[0].transpose(0, 1).to(torch.float32).cpu().numpy()  # [frames, channels]
        out = np.ascontiguousarray(out)
        if out.shape != (self.block_frames, self.channels):
            raise RuntimeError(f"codec decoded {out.shape}, expected {(self.block_frames, self.channels)}")
        return out, replace(nxt, decode_state=decode_state)

    def set_adapter(self, path: str | Path | None, strength: float = 1.0) -> None:
        """Mix a LoRA adapter file (model/lora.py) into the network at `strength` (0 = off, 1 = as trained);
        None removes it. Takes effect from the next block; a bad file raises CheckpointError, model unchanged."""
        from lmd_studio.model.lora import AdapterMixer, load_adapter

        adapter = None if path is None else load_adapter(path, self.dit.cfg)
        with self._weights_lock:
            if self._adapters is None:
                self._adapters = AdapterMixer(self.dit)
            self._adapters.apply(adapter, float(strength))
            self.dit._time_memo.clear()
        with self._lock:
            self._text_cache.clear()  # cross-attention K/V were computed with the old weights
