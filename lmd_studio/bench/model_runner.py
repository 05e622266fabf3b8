"""The measurements behind `lmd bench model` (see model.py for what is reported).

Method: all modes use the same network weights. Each mode first streams until its context (or cache) is
full, then the modes take turns block by block, so a burst of load from other processes hits all of them
alike; we report the median and the minimum per block. Token-passes are counted by the network's own
instrumentation (`DiT.counter`), FLOPs by torch's FlopCounterMode on one steady-state block (with the
plain F.linear path, whose matmuls it can see, plus our formula for the CPU attention kernel it does not
count). The matmul peak is the best of square `torch.matmul` and oneDNN packed linears, measured in this
run, per dtype; on AMD CPUs torch.matmul (MKL) reaches only about half of what oneDNN does, so both are
reported and `peak_fraction` uses the higher, stricter one.

What the CPU can run decides what is measured (cpu_features.py): on a CPU without oneDNN bf16 (AVX2
laptops) the bf16 section is reported as skipped, with the reason, instead of raising after the fp32
figures. `run_benchmark` hands the result so far to `on_section` after every measured section, so the
caller can save it and a later failure loses nothing.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from lmd_studio.core.assets import asset_root
from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.cpu_features import CpuFeatures, CpuProbe, probe_cpu_features
from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.fast_linear import set_inference_dtype
from lmd_studio.model.samplers import SamplerSpec
from lmd_studio.model.streaming import (
    MODES,
    BlockCausalBlock,
    LatentStreamState,
    make_block_denoiser,
    token_passes_formula,
)
from lmd_studio.model.text_encoder import FakeTextEncoder

PROMPT = "warm lo-fi piano chords with soft drums"


class BenchError(RuntimeError):
    """A benchmark request this machine cannot serve (reported as a message, not a traceback)."""


@dataclass(frozen=True, slots=True)
class BenchSettings:
    sizes: tuple[tuple[int, int], ...] = ()
    steps: int = 8
    blocks: int = 12
    warmup: int = 3
    threads: int = 2
    device: str = "cpu"
    model_dir: str | None = None
    sampler: str = "pingpong"
    bf16: bool = True
    codec: str = "auto"
    # wall clock by default; "cpu" uses this process's CPU time instead, which on a machine busy with other
    # jobs estimates what an idle machine would take (exact for --threads 1; with more threads it also
    # counts time spent spinning at OpenMP barriers)
    clock: str = "wall"
    d_model: int | None = None
    layers: int | None = None
    heads: int | None = None

    @property
    def timer(self) -> Callable[[], float]:
        return time.process_time if self.clock == "cpu" else time.perf_counter


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_time(fn, device: torch.device, reps: int, clock: Callable[[], float],  # noqa: ANN001
               seconds: float = 0.4) -> float:
    fn()
    _sync(device)
    best, deadline = float("inf"), time.perf_counter() + seconds
    for _ in range(reps):
        t0 = clock()
        fn()
        _sync(device)
        best = min(best, clock() - t0)
        if time.perf_counter() > deadline:
            break
    return best


def measure_peak(device: torch.device, dtype: torch.dtype, features: CpuFeatures,
                 clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Best matmul GFLOP/s this machine reaches now: square torch.matmul and (CPU) oneDNN packed linears
    where `features` say oneDNN packs `dtype`."""
    out: dict[str, float] = {}
    with torch.inference_mode():
        for n in (512, 1024, 2048):
            a = torch.randn(n, n, device=device, dtype=dtype)
            b = torch.randn(n, n, device=device, dtype=dtype)
            t = _best_time(lambda a=a, b=b: a @ b, device, reps=20, clock=clock)
            out[f"matmul_{n}"] = 2 * n ** 3 / t / 1e9
        if device.type == "cpu" and features.packed_dtype(dtype) == dtype:
            for rows, k, n in ((64, 1024, 4096), (256, 1024, 4096), (128, 2048, 2048)):
                x = torch.randn(rows, k, dtype=dtype)
                w = torch.ops.mkldnn._reorder_linear_weight(torch.randn(n, k, dtype=dtype), rows)
                t = _best_time(lambda x=x, w=w: torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], ""),
                               device, reps=50, clock=clock)
                out[f"onednn_{rows}x{k}x{n}"] = 2 * rows * k * n / t / 1e9
    out["torch_matmul"] = max(v for k, v in out.items() if k.startswith("matmul_"))
    out["peak"] = max(out.values())
    return out


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001, ANN002, ANN003
    b, h, q, d = query_shape
    k = key_shape[-2]
    return 2 * b * h * q * k * d + 2 * b * h * q * k * value_shape[-1]


REPO_DEFAULT_MODEL = asset_root() / "models" / "default"


def _max_rss_mb() -> float | None:
    """Peak resident memory of this process; None where the `resource` module is missing (Windows)."""
    if sys.platform == "win32":
        return None
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def build_dit(settings: BenchSettings, device: torch.device) -> tuple[DiT, str]:
    overrides = {k: v for k, v in (("d_model", settings.d_model), ("n_layers", settings.layers),
                                   ("n_heads", settings.heads)) if v is not None}
    if settings.model_dir:
        from lmd_studio.model.model_io import DIT_FILE, load_dit

        dit, _ = load_dit(Path(settings.model_dir) / DIT_FILE, device=device)
        return dit, f"{settings.model_dir} (trained weights)"
    if not overrides and (REPO_DEFAULT_MODEL / "dit.safetensors").is_file():
        from lmd_studio.model.model_io import load_dit

        dit, _ = load_dit(REPO_DEFAULT_MODEL / "dit.safetensors", device=device)
        return dit, f"{REPO_DEFAULT_MODEL} (the shipped model)"
    torch.manual_seed(0)
    return DiT(DiTConfig.default(**overrides)).to(device), "random weights"


def resized(dit: DiT, s: int, o: int) -> DiT:
    """The same weights in a window of s context + o block frames (no weight depends on s, o or W)."""
    if (dit.cfg.context_frames, dit.cfg.block_frames) == (s, o):
        return dit
    other = DiT(dit.cfg.replace(context_frames=s, block_frames=o)).to(next(dit.parameters()).device)
    other.load_state_dict(dit.state_dict())
    return other.eval()


class _Stream:
    """One mode's latent stream, advanced one timed block at a time."""

    def __init__(self, dit: DiT, mode: str, text, spec: SamplerSpec, device: torch.device,  # noqa: ANN001
                 clock: Callable[[], float]) -> None:
        self.dit, self.mode, self.text, self.spec, self.device = dit, mode, text, spec, device
        self.clock = clock
        self.state = LatentStreamState.start(dit, device)
        self.cond = torch.zeros(1, dit.cfg.block_frames, dit.cfg.frame_cond_channels, device=device)
        self.index = 0

    def step(self) -> tuple[float, int]:
        cfg = self.dit.cfg
        gen = torch.Generator(device=self.device).manual_seed(self.index)
        self.dit.counter.reset()
        _sync(self.device)
        t0 = self.clock()
        denoiser = make_block_denoiser(self.dit, self.mode, self.state, self.text, self.cond, gen)
        x = self.spec.run(denoiser, (1, cfg.block_frames, cfg.latent_channels), gen, device=self.device)
        cache = denoiser.new_cache if isinstance(denoiser, BlockCausalBlock) else self.state.cache
        self.state = self.state.advanced(x, self.cond, cfg.context_frames, cache)
        _sync(self.device)
        self.index += 1
        return (self.clock() - t0) * 1000.0, self.dit.counter.frame_tokens


def compare_modes(dit: DiT, settings: BenchSettings, s: int, o: int, device: torch.device,
                  dtype: torch.dtype | None, probe: CpuProbe = probe_cpu_features
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows per mode at (s, o, K), and the block-causal stream's FLOPs and cache size."""
    net = resized(dit, s, o).for_inference(dtype if device.type == "cpu" else None, probe=probe)
    spec = SamplerSpec(settings.sampler, settings.steps)  # guidance 1: no CFG, as the formulas assume
    enc = FakeTextEncoder(net.cfg.text_dim)
    autocast = device.type == "cuda" and dtype == torch.bfloat16
    with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=autocast):
        from lmd_studio.model.conditioning import prompt_mix_condition

        text = net.encode_text(prompt_mix_condition(enc, [(PROMPT, 1.0)]))
        streams = {m: _Stream(net, m, text, spec, device, settings.timer) for m in MODES}
        for stream in streams.values():
            for _ in range(s // o + 1 + settings.warmup):
                stream.step()
        times: dict[str, list[float]] = {m: [] for m in MODES}
        passes: dict[str, int] = {}
        for _ in range(settings.blocks):
            for m, stream in streams.items():
                ms, tokens = stream.step()
                times[m].append(ms)
                passes[m] = tokens
        bc = streams["blockcausal"]
        set_inference_dtype(net, None)  # FlopCounterMode sees aten matmuls, not oneDNN's packed calls
        counter = FlopCounterMode(display=False,
                                  custom_mapping={torch.ops.aten._scaled_dot_product_flash_attention_for_cpu:
                                                  _cpu_sdpa_flops})
        with counter:
            bc.step()
        set_inference_dtype(net, net.compute_dtype if device.type == "cpu" else None, probe=probe)
        matmul_ms = _matmul_ms_per_block(bc, device)
    rows = [{"mode": m, "s": s, "o": o, "K": settings.steps, "token_passes": passes[m],
             "token_passes_formula": token_passes_formula(m, s, o, settings.steps),
             "ms_per_block": round(statistics.median(times[m]), 3), "ms_min": round(min(times[m]), 3)}
            for m in MODES]
    sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    attention_flops = sum(n for op, n in counter.get_flop_counts().get("Global", {}).items() if op is sdpa)
    extra = {"flops_per_block": int(counter.get_total_flops()),
             "matmul_flops_per_block": int(counter.get_total_flops() - attention_flops),
             "matmul_ms_per_block": matmul_ms,
             "kv_cache_bytes": bc.state.cache.nbytes if bc.state.cache is not None else 0}
    return rows, extra


_MATMUL_OPS = ("mkldnn::_linear_pointwise", "aten::addmm", "aten::mm", "aten::bmm", "aten::linear")


def _matmul_ms_per_block(stream: _Stream, device: torch.device) -> float | None:
    """Time spent inside the matmul kernels of one block (profiler self time), to tell kernel efficiency
    apart from the per-kernel overhead around them. CPU only."""
    if device.type != "cpu":
        return None
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        stream.step()
    us = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key.split(".")[0] in _MATMUL_OPS)
    return round(us / 1000.0, 3)


def _load_codec(settings: BenchSettings, device: torch.device):  # noqa: ANN202
    if settings.codec == "none":
        return None, "none"
    try:
        from lmd_studio.model import codec as codec_module
    except ImportError:
        return None, "unavailable (no lmd_studio.model.codec in this build)"
    folder = Path(settings.model_dir) if settings.model_dir else REPO_DEFAULT_MODEL
    path = folder / "codec.safetensors"
    if path.is_file():
        return codec_module.load_codec(path), f"{path}"
    from lmd_studio.model.codec_net import CodecConfig, CodecNet

    torch.manual_seed(0)
    return codec_module.SpectralCodec(CodecNet(CodecConfig())), "random-weight SpectralCodec (same cost)"


def full_step(dit: DiT, codec, settings: BenchSettings, device: torch.device,  # noqa: ANN001
              dtype: torch.dtype | None, probe: CpuProbe = probe_cpu_features) -> dict[str, float]:
    """The engine's whole step per block: TorchBlockGenerator.generate_block (diffusion + codec decode)."""
    from lmd_studio.model.generator import TorchBlockGenerator
    from lmd_studio.model.model_io import GeneratorConfig

    gen = TorchBlockGenerator(dit, codec, FakeTextEncoder(dit.cfg.text_dim), device=device,
                              config=GeneratorConfig("blockcausal", settings.sampler, settings.steps),
                              inference_dtype=dtype, cpu_probe=probe)
    controls = BlockControls(values={"steps": settings.steps}, prompts=(PromptSlot(PROMPT, 1.0),))
    state = gen.init_state(0)
    for _ in range(dit.cfg.window_chunks + settings.warmup):
        _, state = gen.generate_block(state, controls)
    total, decode = [], []
    o = dit.cfg.block_frames
    clock = settings.timer
    for _ in range(settings.blocks):
        t0 = clock()
        _, nxt = gen.generate_block(state, controls)
        total.append((clock() - t0) * 1000.0)
        latents = nxt.stream.context[:, -o:].float().cpu()  # decode alone, again, from the old state
        with torch.inference_mode():
            t1 = clock()
            codec.decode_block(latents, state.decode_state)
            _sync(device)
            decode.append((clock() - t1) * 1000.0)
        state = nxt
    block_ms = gen.block_frames / gen.sample_rate * 1000.0
    med = statistics.median(total)
    return {"ms_full_step": round(med, 3), "ms_full_step_min": round(min(total), 3),
            "ms_decode": round(statistics.median(decode), 3), "block_ms": round(block_ms, 3),
            "rtf_full_step": round(med / block_ms, 4)}


DELAY_S = 1.0  # generative delay's delay in the benchmark (the studio's default)


def jam_step(dit: DiT, codec, settings: BenchSettings, device: torch.device,  # noqa: ANN001
             probe: CpuProbe = probe_cpu_features, lag_blocks: int = 2) -> dict[str, float]:
    """The full step in jam mode, side by side with the solo step in the same run: a live partner delivers
    one block of audio per block, `lag_blocks` behind the block being generated (live input arrives after
    it was played, and the engine generates ahead of the playhead), encoded by the codec on the generation
    thread; each block re-encodes the cached chunks whose partner frames arrived since
    (model/partner_track.py). Generative delay (the same partner, shifted by `DELAY_S` and visible into the
    block being generated) runs interleaved beside them."""
    import numpy as np

    from lmd_studio.model.generator import TorchBlockGenerator
    from lmd_studio.model.jam import JamGenerator, LivePartnerSource
    from lmd_studio.model.model_io import GeneratorConfig

    gen = TorchBlockGenerator(dit, codec, FakeTextEncoder(dit.cfg.text_dim), device=device,
                              config=GeneratorConfig("blockcausal", settings.sampler, settings.steps, jam_trained=True),
                              cpu_probe=probe)
    block = gen.block_frames

    def live_partner() -> LivePartnerSource:
        rng, pulls = np.random.default_rng(0), [0]

        def pull() -> np.ndarray:
            pulls[0] += 1
            n = block if pulls[0] > lag_blocks else 0
            return (0.1 * rng.standard_normal((n, codec.audio_channels))).astype(np.float32)

        return LivePartnerSource(gen.partner_encoder(), pull)

    jam = JamGenerator(gen, live_partner(), lookahead_s=0.0)
    delay = JamGenerator(gen, live_partner(), lookahead_s=0.0, delay_s=DELAY_S)
    controls = BlockControls(values={"steps": settings.steps}, prompts=(PromptSlot(PROMPT, 1.0),))
    solo_state, jam_state, delay_state = gen.init_state(0), jam.init_state(0), delay.init_state(0)
    for _ in range(dit.cfg.window_chunks + settings.warmup):
        _, solo_state = gen.generate_block(solo_state, controls)
        _, jam_state = jam.generate_block(jam_state, controls)
        _, delay_state = delay.generate_block(delay_state, controls)
    solo, jammed, delayed = [], [], []
    clock = settings.timer
    for _ in range(settings.blocks):  # interleaved, so all three see the same machine load
        t0 = clock()
        _, solo_state = gen.generate_block(solo_state, controls)
        t1 = clock()
        _, jam_state = jam.generate_block(jam_state, controls)
        t2 = clock()
        _, delay_state = delay.generate_block(delay_state, controls)
        t3 = clock()
        solo.append((t1 - t0) * 1000.0)
        jammed.append((t2 - t1) * 1000.0)
        delayed.append((t3 - t2) * 1000.0)
    block_ms = block / gen.sample_rate * 1000.0
    solo_ms, jam_ms, delay_ms = statistics.median(solo), statistics.median(jammed), statistics.median(delayed)
    return {"ms_solo_step": round(solo_ms, 3), "ms_jam_step": round(jam_ms, 3),
            "rtf_jam_step": round(jam_ms / block_ms, 4), "jam_cost_ratio": round(jam_ms / solo_ms, 3),
            "jam_partner_lag_blocks": lag_blocks, "ms_delay_step": round(delay_ms, 3),
            "rtf_delay_step": round(delay_ms / block_ms, 4), "delay_cost_ratio": round(delay_ms / solo_ms, 3),
            "delay_s": DELAY_S}


def _speedups(rows: list[dict[str, Any]]) -> dict[str, float]:
    ms = {r["mode"]: r["ms_per_block"] for r in rows}
    best = {r["mode"]: r["ms_min"] for r in rows}
    return {"blockcausal_vs_naive": round(ms["naive"] / ms["blockcausal"], 3),
            "blockcausal_vs_encdec": round(ms["encdec"] / ms["blockcausal"], 3),
            "blockcausal_vs_naive_min": round(best["naive"] / best["blockcausal"], 3),
            "blockcausal_vs_encdec_min": round(best["encdec"] / best["blockcausal"], 3)}


def overhead_model(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """Least-squares fit of `ms = passes·a + token_passes·b` over every row: `a` is the fixed cost of one
    forward pass (kernel launches, Python), `b` the cost of one frame token through the network. It explains
    why measured speedups fall short of the token ratios: a pass costs `a` whatever its size. None when
    the rows cannot separate a from b (fewer than two distinct token counts)."""
    pts = [(r["K"], r["token_passes"], r["ms_per_block"]) for r in rows]
    if len({(p, t) for p, t, _ in pts}) < 2:
        return None
    spp = sum(p * p for p, _, _ in pts)
    stt = sum(t * t for _, t, _ in pts)
    spt = sum(p * t for p, t, _ in pts)
    spy = sum(p * y for p, _, y in pts)
    sty = sum(t * y for _, t, y in pts)
    det = spp * stt - spt * spt
    if abs(det) < 1e-9:
        return None
    a = (spy * stt - sty * spt) / det
    b = (sty * spp - spy * spt) / det
    return {"ms_per_pass": round(a, 3), "us_per_frame_token": round(1000 * b, 2)}


def default_sizes(cfg: DiTConfig) -> tuple[tuple[int, int], ...]:
    """The model's own window, s:o = 4:1 at the model's block size, the paper's 192:48, and 384:96.

    Why the large one: every pass streams all weights whatever its row count, so block-causal only realises
    its token advantage once blocks are long enough to amortise that (measured, one thread: 2.2× at 64:16,
    3.1× at 192:48, 4.0× at 384:96 against the 4.44× token ratio)."""
    sizes = [(cfg.context_frames, cfg.block_frames), (4 * cfg.block_frames, cfg.block_frames), (192, 48),
             (384, 96)]
    return tuple(dict.fromkeys(sizes))


def _ignore(result: dict[str, Any]) -> None:
    """The default `on_section`: nothing to save."""


def run_benchmark(settings: BenchSettings, probe: CpuProbe = probe_cpu_features,
                  on_section: Callable[[dict[str, Any]], None] = _ignore) -> dict[str, Any]:
    """Every section of `lmd bench model`; `on_section(result so far)` runs after each one ("complete"
    stays False until the last)."""
    device = torch.device(settings.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchError(f"--device {settings.device}: this torch build or machine has no CUDA device")
    torch.set_num_threads(settings.threads)
    features = probe()
    dit, source = build_dit(settings, device)
    cfg = dit.cfg
    sizes = settings.sizes or default_sizes(cfg)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    peak32 = measure_peak(device, torch.float32, features, settings.timer)
    result: dict[str, Any] = {
        "complete": False,
        "device": str(device), "cpu": platform.processor() or platform.machine(), "threads": settings.threads,
        "cpu_features": {"isa": features.isa, "avx2": features.avx2, "avx512": features.avx512,
                         "onednn": features.onednn, "bf16_matmul": features.bf16_matmul},
        "torch": torch.__version__, "sampler": settings.sampler, "K": settings.steps, "clock": settings.clock,
        "model": {"source": source, "d_model": cfg.d_model, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
                  "params_m": round(sum(p.numel() for p in dit.parameters()) / 1e6, 3),
                  "context_frames": cfg.context_frames, "block_frames": cfg.block_frames},
        "peak_gflops_fp32": round(peak32["peak"], 1),
        "peak_gflops_fp32_torch_matmul": round(peak32["torch_matmul"], 1),
        "peak_detail_fp32": {k: round(v, 1) for k, v in peak32.items()},
    }
    on_section(result)
    rows: list[dict[str, Any]] = []
    per_size: list[dict[str, Any]] = []
    for s, o in sizes:
        size_rows, extra = compare_modes(dit, settings, s, o, device, torch.float32, probe)
        rows += size_rows
        bc_ms = next(r["ms_per_block"] for r in size_rows if r["mode"] == "blockcausal")
        achieved = extra["flops_per_block"] / (bc_ms / 1000.0) / 1e9
        mm_ms = extra["matmul_ms_per_block"]
        kernel = (extra["matmul_flops_per_block"] / (mm_ms / 1000.0) / 1e9) if mm_ms else None
        per_size.append({"s": s, "o": o, **_speedups(size_rows), "gflop_per_block": round(extra["flops_per_block"] / 1e9, 3),
                         "matmul_ms_per_block": mm_ms,
                         "matmul_kernel_gflops": round(kernel, 1) if kernel else None,
                         "matmul_kernel_peak_fraction": round(kernel / peak32["peak"], 3) if kernel else None,
                         "achieved_gflops": round(achieved, 1), "peak_fraction": round(achieved / peak32["peak"], 3),
                         "peak_fraction_vs_torch_matmul": round(achieved / peak32["torch_matmul"], 3),
                         "kv_cache_kb": round(extra["kv_cache_bytes"] / 1024, 1)})
        result.update(rows=rows, per_size=per_size)
        on_section(result)
    first = per_size[0]
    fit = overhead_model(rows)
    if fit is not None:
        result["overhead_model"] = fit
    result.update(speedup_blockcausal_vs_naive=first["blockcausal_vs_naive"],
                  speedup_blockcausal_vs_encdec=first["blockcausal_vs_encdec"],
                  achieved_gflops=first["achieved_gflops"], peak_fraction=first["peak_fraction"])
    codec, codec_name = _load_codec(settings, device)
    result["codec"] = codec_name
    if codec is not None:
        result.update(full_step(dit, codec, settings, device, torch.float32, probe))
        on_section(result)
        if cfg.accomp_channels:
            result["jam"] = jam_step(dit, codec, settings, device, probe)
    on_section(result)
    result["bf16"] = _bf16_section(dit, codec, settings, device, features, probe, sizes[0], rows)
    if "peak_gflops_bf16" in result["bf16"]:
        result["peak_gflops_bf16"] = result["bf16"]["peak_gflops_bf16"]
    on_section(result)
    result["memory"] = {"max_rss_mb": _max_rss_mb(),
                        "params_mb_fp32": round(sum(p.numel() for p in dit.parameters()) * 4 / 2**20, 1),
                        "kv_cache_kb": first["kv_cache_kb"]}
    if load_before is not None:  # other processes on the machine skew wall clock: say how busy it was
        result["load_average_1min"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    if device.type == "cuda":
        result["memory"]["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    result["complete"] = True
    on_section(result)
    return result


def _bf16_section(dit: DiT, codec, settings: BenchSettings, device: torch.device,  # noqa: ANN001
                  features: CpuFeatures, probe: CpuProbe, size: tuple[int, int],
                  rows32: list[dict[str, Any]]) -> dict[str, Any]:
    """The bf16 figures at the first size, or {"skipped": why} (not asked for, or this CPU cannot)."""
    if not settings.bf16:
        return {"skipped": "not requested (--no-bf16)"}
    reason = features.bf16_skip_reason if device.type == "cpu" else None
    if reason is not None:
        return {"skipped": reason}
    peak16 = measure_peak(device, torch.bfloat16, features, settings.timer)
    s, o = size
    rows16, extra16 = compare_modes(dit, settings, s, o, device, torch.bfloat16, probe)
    bc16 = first_bc_ms(rows16)
    achieved16 = extra16["flops_per_block"] / (bc16 / 1000.0) / 1e9
    bf16: dict[str, Any] = {"peak_gflops_bf16": round(peak16["peak"], 1),
                            "peak_gflops_bf16_torch_matmul": round(peak16["torch_matmul"], 1),
                            "rows": rows16, **_speedups(rows16),
                            "achieved_gflops": round(achieved16, 1),
                            "peak_fraction_of_bf16_peak": round(achieved16 / peak16["peak"], 3),
                            "blockcausal_speedup_vs_fp32": round(first_bc_ms(rows32) / bc16, 3)}
    if codec is not None:
        bf16.update(full_step(dit, codec, settings, device, torch.bfloat16, probe))
    return bf16


def first_bc_ms(rows: list[dict[str, Any]]) -> float:
    return next(r["ms_per_block"] for r in rows if r["mode"] == "blockcausal")


def print_table(r: dict[str, Any]) -> None:
    m = r["model"]
    isa = f", {r['cpu_features']['isa']}" if r["device"] == "cpu" and "cpu_features" in r else ""
    print(f"lmd bench model — {r['device']} ({r['cpu']}{isa}), {r['threads']} threads, torch {r['torch']}, "
          f"{'CPU-time' if r.get('clock') == 'cpu' else 'wall'} clock")
    print(f"model: d={m['d_model']} layers={m['n_layers']} heads={m['n_heads']} ({m['params_m']} M params, "
          f"{m['source']}); sampler {r['sampler']}, K={r['K']}, no CFG")
    print(f"matmul peak measured now: fp32 {r['peak_gflops_fp32']} GFLOP/s (square torch.matmul alone: "
          f"{r['peak_gflops_fp32_torch_matmul']})"
          + (f", bf16 {r['peak_gflops_bf16']} GFLOP/s" if "peak_gflops_bf16" in r else ""))
    print()
    print(f"{'mode':<12}{'s':>5}{'o':>4}{'K':>3}{'passes':>8}{'formula':>9}{'ms/block':>10}{'min ms':>9}")
    for row in r["rows"]:
        print(f"{row['mode']:<12}{row['s']:>5}{row['o']:>4}{row['K']:>3}{row['token_passes']:>8}"
              f"{row['token_passes_formula']:>9}{row['ms_per_block']:>10.1f}{row['ms_min']:>9.1f}")
    print()
    for p in r["per_size"]:
        print(f"s={p['s']} o={p['o']}: block-causal {p['blockcausal_vs_naive']:.2f}x faster than naive "
              f"(best-of: {p['blockcausal_vs_naive_min']:.2f}x), {p['blockcausal_vs_encdec']:.2f}x than enc-dec "
              f"({p['blockcausal_vs_encdec_min']:.2f}x); {p['achieved_gflops']} GFLOP/s = "
              f"{100 * p['peak_fraction']:.0f}% of the fp32 peak ({100 * p['peak_fraction_vs_torch_matmul']:.0f}% "
              f"of torch.matmul's)"
              + (f"; inside the matmul kernels {p['matmul_kernel_gflops']} GFLOP/s "
                 f"({100 * p['matmul_kernel_peak_fraction']:.0f}%), {p['matmul_ms_per_block']:.1f} ms of the block"
                 if p.get("matmul_kernel_gflops") else ""))
    if "overhead_model" in r:
        f = r["overhead_model"]
        print(f"fit over all rows: {f['ms_per_pass']} ms fixed per forward pass + {f['us_per_frame_token']} µs per "
              f"frame token (a pass's fixed cost is what keeps small blocks from their token ratio)")
    if "rtf_full_step" in r:
        print(f"full step (diffusion + decode, codec: {r['codec']}): {r['ms_full_step']:.1f} ms per "
              f"{r['block_ms']:.0f} ms block → RTF {r['rtf_full_step']:.3f} (decode {r['ms_decode']:.1f} ms)")
    if "jam" in r:
        j = r["jam"]
        print(f"jam mode (a live partner, encoded per block): {j['ms_jam_step']:.1f} ms vs solo {j['ms_solo_step']:.1f} "
              f"ms → RTF {j['rtf_jam_step']:.3f}, {j['jam_cost_ratio']:.2f}× solo")
        if "ms_delay_step" in j:
            print(f"generative delay ({j['delay_s']:g} s, the same partner lined up with the block): "
                  f"{j['ms_delay_step']:.1f} ms → RTF {j['rtf_delay_step']:.3f}, {j['delay_cost_ratio']:.2f}× solo")
    else:
        print(f"full step: no codec ({r['codec']})")
    b = r.get("bf16")
    if b is not None and "skipped" in b:
        print(f"bf16: {b['skipped']}")
    elif b is not None:
        line = (f"bf16: block-causal {first_bc_ms(b['rows']):.1f} ms/block ({b['blockcausal_speedup_vs_fp32']:.2f}x "
                f"fp32), {b['achieved_gflops']} GFLOP/s = {100 * b['peak_fraction_of_bf16_peak']:.0f}% of the bf16 peak")
        if "rtf_full_step" in b:
            line += f"; full step RTF {b['rtf_full_step']:.3f}"
        print(line)
    if "load_average_1min" in r:
        la = r["load_average_1min"]
        print(f"machine load (1-min average) at start {la['start']}, at end {la['end']} on {os.cpu_count()} CPUs")
    mem = r["memory"]
    print(f"memory: max RSS {mem['max_rss_mb']} MB, weights {mem['params_mb_fp32']} MB fp32, "
          f"KV cache {mem['kv_cache_kb']} KB")
