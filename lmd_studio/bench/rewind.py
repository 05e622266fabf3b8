"""`lmd bench rewind`: rewinding with a real model — is the music bit-identical, what do the kept states
cost, how far back does the budget reach, and how long is the gap before the new take is heard.

The engine is stepped synchronously at the model's own rate (no device, no resampling: the block audio
reaches the ring unchanged, so "bit-identical" is about the model and the kept state, not a resampler).
1. play `--seconds` with the memory budget `--budget-mb`; the kept states' memory (shared storage counted
   once) and how many blocks / seconds the budget holds, beside one state's own size;
2. rewind to a block heard `--back-s` ago with the same Variation: the regenerated blocks against the ones
   first heard there (`rewind_bit_identical`: three blocks, every sample equal);
3. the same with a new Variation (`new_variation_differs`);
4. when it is heard: the new take is crossfaded in just past the playhead like a splice, so there is no
   gap; `rewind_heard_after_ms` is how far past the playhead that cut was (the splice margin: one block's
   generation time on this machine, under its load, plus a safety margin), `rewind_made_ms` the wall clock
   to make it.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from lmd_studio.bench.report import print_report


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--seconds", type=float, default=40.0, help="played before rewinding (s)")
    p.add_argument("--back-s", type=float, default=10.0, help="how far back the rewind goes (s)")
    p.add_argument("--budget-mb", type=int, default=128, help="memory for the kept states (MB)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON only")


def _play(engine: Any, seconds: float, buffer_frames: int = 512) -> None:
    import numpy as np

    buf = np.zeros((buffer_frames, engine.config.device_channels), np.float32)
    for _ in range(int(seconds * engine.config.device_sample_rate_hz) // buffer_frames):
        while engine.step():
            pass
        engine.output.render(buf)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from lmd_studio.app.engine_parts import make_generator, make_mailbox
    from lmd_studio.core.params import MASTER_GAIN, SEED
    from lmd_studio.core.state_size import storages
    from lmd_studio.engine import commands as cmd
    from lmd_studio.engine.worker import EngineConfig, GenerationEngine

    gen = make_generator(args.model, threads=args.threads)
    mailbox = make_mailbox(gen)
    mailbox.set(MASTER_GAIN.name, 0.0)
    config = EngineConfig(device_sample_rate_hz=gen.sample_rate, device_channels=gen.channels, limiter=None,
                          safe_mode=False, history_budget_bytes=args.budget_mb * 2**20)
    engine = GenerationEngine(gen, mailbox, config, max_buffer_frames=4096)
    heard: dict[int, tuple[int, np.ndarray]] = {}
    engine.add_block_listener(lambda pos, frames, i, spliced: heard.update({pos: (i, np.array(frames))}))
    engine.send(cmd.Play())
    _play(engine, args.seconds)
    history = engine.history
    rate = gen.sample_rate
    read = engine.ring.read_position
    block_s = gen.block_frames / rate
    kept = len(history)
    playing = history.at(read)
    one_state = sum(storages(playing.state).values()) if playing is not None else 0
    oldest = history.oldest_start
    reach_s = max(0, read - oldest) / rate if oldest is not None else 0.0
    first = dict(heard)
    fork = history.at(read - int(args.back_s * rate))
    if fork is None:
        raise RuntimeError(f"{args.back_s} s back is not kept with {args.budget_mb} MB (it reaches {reach_s:.1f} s)")
    heard.clear()
    read0 = engine.ring.read_position
    t0 = time.perf_counter()
    engine.send(cmd.Rewind(fork.start))
    while not heard:
        engine.step()
    made_ms = (time.perf_counter() - t0) * 1000.0
    cut = min(heard)  # where the new take is heard from, crossfaded out of the queued audio
    heard_after_ms = (cut - read0) / rate * 1000.0
    _play(engine, 3 * block_s)
    again = [heard[p] for p in sorted(heard)][:3]
    original = [first[p] for p in sorted(first) if p >= fork.start][:3]
    xf = engine.crossfade_frames

    def after_fade(cut_at: int, tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The regenerated fork block after the crossfade, and the same samples of the block first heard."""
        kept_again = history.at(cut_at)
        offset = cut_at - kept_again.start if kept_again is not None else 0
        return tail[xf:], original[0][1][offset + xf:offset + len(tail)]

    # the first block after the crossfade, the next ones whole: every sample equal
    identical = (len(again) == 3 and again[0][0] == original[0][0]
                 and np.array_equal(*after_fade(cut, again[0][1]))
                 and all(i == j and np.array_equal(a, b) for (i, a), (j, b) in zip(again[1:], original[1:])))
    heard.clear()
    mailbox.set(SEED.name, 4321.0)
    engine.send(cmd.Rewind(fork.start))
    _play(engine, 2 * block_s)
    cut = min(heard)
    index, tail = heard[cut]
    new, old = after_fade(cut, tail)
    differs = index == fork.block_index and new.shape == old.shape and not np.array_equal(new, old)
    return {
        "model": gen.name, "block_s": round(block_s, 4), "budget_mb": args.budget_mb,
        "state_mb": round(one_state / 2**20, 3), "kept_mb": round(history.bytes / 2**20, 2), "kept_blocks": kept,
        "mb_per_kept_block": round(history.bytes / 2**20 / max(1, kept), 3),
        "reach_s": round(reach_s, 1), "rewind_back_s": args.back_s, "rewind_bit_identical": identical,
        "new_variation_differs": differs, "rewind_made_ms": round(made_ms, 1),
        "rewind_heard_after_ms": round(heard_after_ms, 1), "load_1min": round(os.getloadavg()[0], 2),
    }


def run(args: argparse.Namespace) -> int:
    from lmd_studio.app.model_errors import ModelLoadError

    try:
        result = measure(args)
    except (ModelLoadError, FileNotFoundError, RuntimeError) as exc:
        print(f"lmd bench rewind: {exc}")
        return 1
    rows = [
        ("model", f"{result['model']} · blocks of {result['block_s']} s"),
        ("one state", f"{result['state_mb']} MB"),
        ("kept", f"{result['kept_blocks']} blocks, {result['kept_mb']} MB of {result['budget_mb']} "
                 f"({result['mb_per_kept_block']} MB a block, shared storage once)"),
        ("reach", f"{result['reach_s']} s back from the playhead"),
        (f"rewind {result['rewind_back_s']:.0f} s, same Variation", f"bit-identical: {result['rewind_bit_identical']}"),
        ("  new Variation", f"differs: {result['new_variation_differs']}"),
        ("new take heard after", f"{result['rewind_heard_after_ms']} ms, crossfaded, no gap "
                                 f"(made in {result['rewind_made_ms']} ms; load {result['load_1min']})"),
    ]
    print_report(rows, result, args.json)
    return 0
