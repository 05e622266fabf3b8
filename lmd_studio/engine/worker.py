"""The generation worker: keeps the playback ring filled with blocks from a BlockGenerator.

One thread owns the generator, its state, the stream converter and the producer side of the ring. At
every block boundary it drains commands, takes a parameter snapshot if the mailbox changed, generates a
block and writes it to the ring, waiting for space when far enough ahead (back-pressure).

Low control latency: the ring usually holds ~1.5 s of audio, far more than a knob move should wait. When
the model's inputs change, the worker keeps only a safety margin of queued audio beyond the playhead
(enough to cover one regeneration), rewinds the generator to the state at the start of the queued block
that contains the splice point (states are immutable, so every queued block's start state is kept),
regenerates that block with the new controls and crossfades into it at the splice point. The change is
then heard after ≈ margin, not after the whole queue.

`step()` does one unit of work and is what tests and the offline renderer call synchronously; `start()`
runs it on a thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lmd_studio.core.generator import BlockControls, BlockGenerator
from lmd_studio.core.params import MASTER_GAIN, STEPS
from lmd_studio.core.units import db_to_gain
from lmd_studio.dsp.limiter import LimiterConfig, PeakLimiter
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.metrics import EngineMetrics
from lmd_studio.engine.output import OutputStage
from lmd_studio.engine.resample import StreamConverter
from lmd_studio.rt.mailbox import MailboxSnapshot, ParamMailbox
from lmd_studio.rt.ring import SpscRing


@dataclass(frozen=True, slots=True)
class EngineConfig:
    device_sample_rate_hz: int
    device_channels: int = 2
    prime_blocks: int = 2  # blocks queued before the first sample plays
    ahead_s: float = 1.5  # keep generating while less than this is queued
    ring_s: float = 8.0  # playback ring capacity
    min_splice_margin_s: float = 0.03  # kept ahead of the playhead on a splice, beyond regeneration time
    crossfade_s: float = 0.012
    low_latency: bool = True
    # generator states kept for Seek (64 ≈ 47 s of 0.74 s blocks; a real model's state — KV cache + codec
    # decoder state — is ~1 MB each, so 512 would hold ~0.5 GB). With 64, and process_tuning's malloc
    # settings, the 10-minute real-model soak's RSS stays flat.
    history_blocks: int = 64
    seed: int = 0
    safe_mode: bool = True
    idle_wait_s: float = 0.004  # worker sleep when there is nothing to do
    capture: bool = True  # feed the capture ring (recording, retro-capture, timeline); off for offline renders
    limiter: LimiterConfig | None = LimiterConfig()  # after the volume, in every output; None = off (tests)

    def __post_init__(self) -> None:
        if self.device_sample_rate_hz <= 0 or self.device_channels < 1:
            raise ValueError(f"bad device format: {self.device_sample_rate_hz} Hz × {self.device_channels} ch")
        if self.prime_blocks < 1:
            raise ValueError(f"prime_blocks must be >= 1, got {self.prime_blocks}")
        if not 0 < self.ahead_s < self.ring_s:
            raise ValueError(f"need 0 < ahead_s ({self.ahead_s}) < ring_s ({self.ring_s})")
        if self.crossfade_s < 0 or self.min_splice_margin_s < 0:
            raise ValueError("crossfade_s and min_splice_margin_s must be >= 0")


@dataclass(slots=True)
class QueuedBlock:
    """A generated block in the ring: where it sits and the state it was generated from (a splice
    regenerates it from that state)."""

    index: int
    state_before: Any
    model_version: int
    dev_start: int  # ring position of the block's first frame
    dev_end: int


@dataclass(slots=True)
class _Probe:
    """A control change waiting to be heard: measures change → first changed sample out."""

    position: int
    changed_at_s: float


# `listener(position, frames, block_index, spliced)`: see GenerationEngine.add_block_listener
BlockListener = Callable[[int, np.ndarray, int, bool], None]

_RECENT_BLOCKS = 16
# The splice budgets this much over the slowest of the recent generation times: enough for the jitter
# seen in the soak (the real model's block times vary ≈ ±10 % between blocks), far less than the 1.5 × mean
# used before, which made every knob move wait ≈ half a generation time longer than needed.
_REGEN_HEADROOM = 1.2


@dataclass(slots=True)
class _Stats:
    block_ms_last: float = 0.0
    block_ms_mean: float = 0.0
    # the last few generation times, for the splice's regeneration estimate (a worst-case, not a mean)
    block_ms_recent: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT_BLOCKS))
    blocks_generated: int = 0
    splices: int = 0
    splice_misses: int = 0
    last_splice_position: int | None = None  # ring position where the newest splice cut in
    steps_blocks: dict[int, int] = field(default_factory=dict)  # sampling steps → blocks generated with them
    control_latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    last_error: str = ""


class GenerationEngine:
    def __init__(self, generator: BlockGenerator, mailbox: ParamMailbox, config: EngineConfig,
                 max_buffer_frames: int = 8192) -> None:
        self.generator = generator
        self.mailbox = mailbox
        self.config = config
        rate = config.device_sample_rate_hz
        self.ring = SpscRing(int(config.ring_s * rate), config.device_channels)
        self.capture_ring = SpscRing(int(2.0 * rate), config.device_channels) if config.capture else None
        limiter = (PeakLimiter(config.limiter, rate, config.device_channels, max_frames=max_buffer_frames)
                   if config.limiter is not None else None)
        self.output = OutputStage(self.ring, self.capture_ring, rate, max_buffer_frames=max_buffer_frames,
                                  initial_gain=db_to_gain(mailbox.get(MASTER_GAIN.name)), limiter=limiter)
        self._commands: queue.Queue[cmd.Command] = queue.Queue()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False
        self.stats = _Stats()
        self._history: OrderedDict[int, Any] = OrderedDict()
        self._probes: list[_Probe] = []
        self._safe_mode = config.safe_mode
        self._steps_override = 0
        self.metrics = EngineMetrics(generator_name=generator.name)
        self._published_at_s = 0.0
        self._block_listeners: tuple[BlockListener, ...] = ()
        self._reset_stream(config.seed)
        self._snapshot: MailboxSnapshot = mailbox.snapshot()

    # --- derived sizes --------------------------------------------------------------------------
    @property
    def block_s(self) -> float:
        return self.generator.block_frames / self.generator.sample_rate

    @property
    def block_device_frames(self) -> int:
        return int(round(self.block_s * self.config.device_sample_rate_hz))

    def _dev_pos_of_block(self, block_index: int) -> int:
        """Ring position of block `block_index`'s first frame within the current epoch."""
        model_frames = (block_index - self._epoch_block) * self.generator.block_frames
        return self._epoch_dev + int(round(model_frames * self._converter.ratio))

    # --- public control (any thread) ---------------------------------------------------------------
    def send(self, command: cmd.Command) -> None:
        self._commands.put(command)
        self._wake.set()

    def wake(self) -> None:
        """Nudge the worker (e.g. after a mailbox write) so it reacts within microseconds."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = True
        self._thread = threading.Thread(target=self._run, name="lmd-generation", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread is None:
            return
        self.send(cmd.Shutdown())
        self._thread.join(timeout_s)
        self._thread = None

    def add_block_listener(self, listener: BlockListener) -> None:
        """`listener(position, frames, block_index, spliced)` is called on the worker thread after each
        block (or spliced tail) is queued: `position` is the ring position of frames[0] (device rate).
        For the timeline's "generated ahead" view; it must return quickly and not keep `frames` mutable."""
        self._block_listeners = (*self._block_listeners, listener)

    def _notify_block(self, position: int, frames: np.ndarray, block_index: int, spliced: bool) -> None:
        for listener in self._block_listeners:
            try:
                listener(position, frames, block_index, spliced)
            except Exception as exc:  # noqa: BLE001 — a view must never stop generation
                self.stats.last_error = f"block listener: {exc}"

    def control_latencies_ms(self) -> list[float]:
        return list(self.stats.control_latency_ms)

    @property
    def controls_in_use(self) -> BlockControls:
        """The controls the worker read from the mailbox last (what the next block is made with); for
        diagnostics and tests, read from any thread (the snapshot is replaced whole, never changed)."""
        return self._snapshot.controls

    # --- the loop -------------------------------------------------------------------------------------
    def _run(self) -> None:
        while self._running:
            did_work = self.step()
            if not did_work and self._running:
                self._wake.wait(self.config.idle_wait_s)
                self._wake.clear()

    def step(self) -> bool:
        """One unit of work: commands, snapshot, splice or one block. Returns whether it did work."""
        did = self._drain_commands()
        self._check_probes()
        changed = self._refresh_snapshot()
        if changed and self._can_splice():
            did = self._splice() or did
        if self._needs_block():
            self._generate_next()
            did = True
        self._update_priming()
        now = time.perf_counter()
        if did or now - self._published_at_s > 0.02:
            self._publish()
            self._published_at_s = now
        return did

    # --- commands -------------------------------------------------------------------------------------
    def _drain_commands(self) -> bool:
        did = False
        while True:
            try:
                c = self._commands.get_nowait()
            except queue.Empty:
                return did
            did = True
            if isinstance(c, cmd.Play):
                self.output.playing = True
            elif isinstance(c, cmd.Stop):
                self.output.playing = False
            elif isinstance(c, cmd.Reset):
                self.ring.flush()
                self._reset_stream(c.seed)
            elif isinstance(c, cmd.Seek):
                self._seek(c.block_index)
            elif isinstance(c, cmd.SetSafeMode):
                self._safe_mode = c.enabled
                if not c.enabled:
                    self._steps_override = 0
            elif isinstance(c, cmd.Shutdown):
                self._running = False

    def _reset_stream(self, seed: int) -> None:
        self._state = self.generator.init_state(seed)
        self._block_index = 0
        self._new_epoch(block_index=0)
        self._queued: deque[QueuedBlock] = deque()
        self._history.clear()
        self._probes.clear()
        self.output.primed = False

    def _new_epoch(self, block_index: int, dev_start: int | None = None) -> None:
        self._converter = StreamConverter(self.generator.sample_rate, self.config.device_sample_rate_hz,
                                          self.generator.channels, self.config.device_channels)
        self._epoch_block = block_index
        self._epoch_dev = self.ring.write_position if dev_start is None else dev_start
        self._pending = np.zeros((0, self.config.device_channels), dtype=np.float32)

    def _seek(self, block_index: int) -> None:
        state = self._history.get(block_index)
        if state is None:
            self.stats.last_error = f"seek: block {block_index} is no longer in the history"
            return
        self.ring.flush()
        self._queued.clear()
        self._probes.clear()
        self._state = state
        self._block_index = block_index
        self._new_epoch(block_index)

    # --- snapshot and controls ----------------------------------------------------------------------
    def _refresh_snapshot(self) -> bool:
        """Take a new snapshot if the mailbox changed; True when the model's inputs changed."""
        if self.mailbox.version == self._snapshot.version:
            return False
        old = self._snapshot
        self._snapshot = self.mailbox.snapshot()
        self.output.gain.target_gain = db_to_gain(self._snapshot.controls.value(MASTER_GAIN))
        return self._snapshot.model_version != old.model_version

    def block_controls(self) -> BlockControls:
        """The controls the next block is generated with: the mailbox's, with the steps override applied."""
        controls = self._snapshot.controls
        if self._steps_override > 0 and STEPS.name in controls.values:
            values = dict(controls.values)
            values[STEPS.name] = min(values[STEPS.name], float(self._steps_override))
            controls = replace(controls, values=values)
        return controls

    # --- generation ---------------------------------------------------------------------------------
    def _needs_block(self) -> bool:
        if self._pending.shape[0]:
            self._flush_pending()
        queued = self.ring.readable_frames + self._pending.shape[0]
        ahead_frames = self.config.ahead_s * self.config.device_sample_rate_hz
        if not self.output.playing and self.output.primed:
            return False  # stopped: keep what is queued, do not run ahead
        room = self.ring.writable_frames - self._pending.shape[0] >= 2 * self.block_device_frames
        return queued < ahead_frames and room

    def _run_generator(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any, float]:
        """Generate one block; a failing generator yields silence and keeps its state (logged in metrics)."""
        self._count_steps(controls)
        t0 = time.perf_counter()
        try:
            audio, next_state = self.generator.generate_block(state, controls)
            audio = np.asarray(audio, dtype=np.float32)
            expected = (self.generator.block_frames, self.generator.channels)
            if audio.shape != expected:
                raise ValueError(f"generator returned shape {audio.shape}, expected {expected}")
            if not np.isfinite(audio).all():
                audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
                self.stats.last_error = "generator produced non-finite samples (replaced by silence)"
        except Exception as exc:  # noqa: BLE001 — a broken block must not stop the instrument
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            audio = np.zeros((self.generator.block_frames, self.generator.channels), dtype=np.float32)
            next_state = state
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        s = self.stats
        s.block_ms_last = elapsed_ms
        s.block_ms_mean = elapsed_ms if s.blocks_generated == 0 else 0.8 * s.block_ms_mean + 0.2 * elapsed_ms
        s.block_ms_recent.append(elapsed_ms)
        s.blocks_generated += 1
        return audio, next_state, elapsed_ms

    def _generate_next(self) -> None:
        controls = self.block_controls()
        version = self._snapshot.model_version
        state_before = self._state
        audio, next_state, _ = self._run_generator(state_before, controls)
        dev_start = self._dev_pos_of_block(self._block_index)
        block = QueuedBlock(self._block_index, state_before, version, dev_start,
                             self._dev_pos_of_block(self._block_index + 1))
        if self._queued and self._queued[-1].model_version != version:
            self._probes.append(_Probe(dev_start, self._snapshot.changed_at_s))
        self._remember(self._block_index, state_before)
        self._queued.append(block)
        self._state = next_state
        self._block_index += 1
        position = self.ring.write_position + self._pending.shape[0]
        frames = self._converter.process(audio)
        self._write(frames)
        if self._block_listeners:
            self._notify_block(position, frames, block.index, False)
        self._adapt_safe_mode()

    def _write(self, frames: np.ndarray) -> None:
        if self._pending.shape[0]:
            frames = np.concatenate([self._pending, frames])
        n = self.ring.write(frames)
        self._pending = frames[n:].copy() if n < frames.shape[0] else frames[:0]
        self._wake_listeners()

    def _flush_pending(self) -> None:
        self._write(np.zeros((0, self.config.device_channels), dtype=np.float32))

    def _wake_listeners(self) -> None:
        """Hook for the offline renderer / tests (nothing by default)."""

    def _count_steps(self, controls: BlockControls) -> None:
        """Tally the sampling steps this block runs with (safe mode may have lowered them), so a take can
        say what really played rather than what the knob asked for."""
        if any(spec.name == STEPS.name for spec in self.generator.param_specs):
            steps = int(controls.value(STEPS))
            self.stats.steps_blocks[steps] = self.stats.steps_blocks.get(steps, 0) + 1

    def _remember(self, index: int, state: Any) -> None:
        self._history[index] = state
        while len(self._history) > self.config.history_blocks:
            self._history.popitem(last=False)

    def _adapt_safe_mode(self) -> None:
        """Lower steps while generation eats > 80% of real time; give them back below 40%."""
        if not self._safe_mode or STEPS.name not in {s.name for s in self.generator.param_specs}:
            return
        rtf = self.stats.block_ms_mean / (1000.0 * self.block_s)
        user_steps = int(self._snapshot.controls.value(STEPS))
        current = self._steps_override or user_steps
        if rtf > 0.8 and current > 1:
            self._steps_override = current - 1
        elif rtf < 0.4 and self._steps_override:
            self._steps_override = 0 if self._steps_override + 1 >= user_steps else self._steps_override + 1

    # --- low-latency splice -----------------------------------------------------------------------
    @property
    def regen_frames(self) -> int:
        """Device frames that one block's generation may take (slowest recent time plus headroom)."""
        recent = self.stats.block_ms_recent
        worst_ms = max(recent) if recent else self.stats.block_ms_mean
        return int(_REGEN_HEADROOM * worst_ms / 1000.0 * self.config.device_sample_rate_hz)

    @property
    def safety_frames(self) -> int:
        """Kept queued beyond any generation time: the splice margin and two device reads."""
        rate = self.config.device_sample_rate_hz
        return int(self.config.min_splice_margin_s * rate) + 2 * self.ring.max_read_frames

    @property
    def splice_margin_frames(self) -> int:
        """How far past the playhead a splice cuts: the safety frames plus one generation."""
        return self.safety_frames + self.regen_frames

    @property
    def queued_blocks(self) -> tuple[QueuedBlock, ...]:
        """The blocks in the ring, oldest first, with the state each was generated from (read it on the
        worker's thread, or while the worker is not running)."""
        return tuple(self._queued)

    def _can_splice(self) -> bool:
        return (self.config.low_latency and self.output.playing and self.output.primed
                and bool(self._queued) and self.ring.max_read_frames > 0)

    def _splice(self) -> bool:
        """Regenerate queued audio from a point just past the playhead with the new controls."""
        xf = int(self.config.crossfade_s * self.config.device_sample_rate_hz)
        margin = self.splice_margin_frames
        splice_at = self.ring.read_position + margin
        if splice_at + xf >= self.ring.write_position:
            return False  # nothing worth replacing: the next block already gets the new controls
        i = next((k for k, b in enumerate(self._queued) if b.dev_start <= splice_at < b.dev_end), None)
        if i is None:
            return False
        # Everything queued after the spliced block is dropped, so what is left of that block is all the
        # time the worker has to generate the next one. Cut close to a block's end and that is a few
        # milliseconds: an underrun. Then splice the next block at its start instead (heard a little later).
        # Budget: regenerating this block takes ≤ R (regen frames) of the margin S + R, leaving the rest of
        # the block plus S for the next generation, which also needs ≤ R: so the rest must be ≥ R (+ fade).
        regen = self.regen_frames
        if self._queued[i].dev_end - splice_at < regen + xf:
            if i + 1 >= len(self._queued) or self._queued[i + 1].dev_end > self.ring.write_position:
                return False
            i += 1
            splice_at = self._queued[i].dev_start
        block = self._queued[i]
        controls = self.block_controls()
        version = self._snapshot.model_version
        audio, next_state, _ = self._run_generator(block.state_before, controls)
        converter = StreamConverter(self.generator.sample_rate, self.config.device_sample_rate_hz,
                                    self.generator.channels, self.config.device_channels)
        fresh = converter.process(audio)  # fresh[0] sits at ring position block.dev_start
        # the playhead moved while we regenerated: re-check where we may still cut
        splice_at = max(splice_at, self.ring.read_position + 2 * self.ring.max_read_frames + xf)
        offset = splice_at - block.dev_start
        write_pos = self.ring.write_position
        # what will be queued once the tail is written must cover the next generation and the safety margin
        fresh_end = block.dev_start + fresh.shape[0]
        if (fresh_end - self.ring.read_position < regen + self.safety_frames or offset + xf >= fresh.shape[0]
                or splice_at + xf >= write_pos):
            self.stats.splice_misses += 1
            return False
        old = self.ring.peek(splice_at, xf)
        tail = fresh[offset:].copy()
        if xf:
            fade_in = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, xf, dtype=np.float32)))[:, None]
            tail[:xf] = old * (1.0 - fade_in) + tail[:xf] * fade_in
        try:
            self.ring.truncate(splice_at)
        except ValueError:
            self.stats.splice_misses += 1
            return False
        while len(self._queued) > i:
            self._queued.pop()
        self._queued.append(QueuedBlock(block.index, block.state_before, version, block.dev_start,
                                         block.dev_end))
        self._state = next_state
        self._block_index = block.index + 1
        self._converter = converter
        self._epoch_block = block.index
        self._epoch_dev = block.dev_start
        self._pending = np.zeros((0, self.config.device_channels), dtype=np.float32)
        self._probes = [p for p in self._probes if p.position < splice_at]
        self._probes.append(_Probe(splice_at, self._snapshot.changed_at_s))
        self.stats.last_splice_position = splice_at
        self._write(tail)
        if self._block_listeners:
            self._notify_block(splice_at, tail, block.index, True)
        self.stats.splices += 1
        return True

    # --- bookkeeping ----------------------------------------------------------------------------------
    def _update_priming(self) -> None:
        if not self.output.primed:
            need = self.config.prime_blocks * self.block_device_frames * 0.9
            if self.ring.readable_frames >= need:
                self.output.reset_lateness()
                self.output.primed = True
        read = self.ring.read_position
        while self._queued and self._queued[0].dev_end <= read and len(self._queued) > 1:
            self._queued.popleft()

    def _check_probes(self) -> None:
        if not self._probes or not self.output.clock_valid:
            return
        read = self.ring.read_position
        keep = []
        for p in self._probes:
            if read > p.position:
                if p.changed_at_s > 0:
                    latency_ms = (self.output.frame_play_time_s(p.position) - p.changed_at_s) * 1000.0
                    self.stats.control_latency_ms.append(latency_ms)
            else:
                keep.append(p)
        self._probes = keep

    def live_metrics(self) -> EngineMetrics:
        """The last published metrics with the output stage's counters (underruns, limiter) read now, from
        any thread. The worker publishes between blocks, so while it generates a slow one (just when
        underruns happen) the snapshot is as old as that block."""
        out = self.output
        return replace(self.metrics, underruns=out.underruns_while_playing, underrun_frames=self.ring.underrun_frames,
                       clipped_samples_pre_limiter=out.clipped_samples_pre_limiter,
                       over_full_scale_samples=out.over_full_scale_samples)

    def _publish(self) -> None:
        rate = self.config.device_sample_rate_hz
        out = self.output
        lateness = out.lateness_ms()
        read = self.ring.read_position
        nxt = next((b.dev_start for b in self._queued if b.dev_start > read), None)
        s = self.stats
        pending_change_s = (self.splice_margin_frames / rate if self._can_splice()
                            else self.ring.readable_frames / rate)
        self.metrics = EngineMetrics(
            generator_name=self.generator.name,
            block_s=self.block_s,
            block_ms_last=s.block_ms_last,
            block_ms_mean=s.block_ms_mean,
            rtf=s.block_ms_mean / (1000.0 * self.block_s),
            headroom_s=self.ring.readable_frames / rate,
            ring_fill=self.ring.readable_frames / self.ring.capacity_frames,
            underruns=out.underruns_while_playing,
            underrun_frames=self.ring.underrun_frames,
            device_underflows=out.device_underflows,
            callback_errors=out.errors,
            callback_lateness_p99_ms=float(np.percentile(lateness, 99)) if lateness.size else 0.0,
            callback_lateness_max_ms=float(lateness.max()) if lateness.size else 0.0,
            buffer_period_ms=1000.0 * self.ring.max_read_frames / rate,
            control_latency_ms_last=s.control_latency_ms[-1] if s.control_latency_ms else 0.0,
            pending_change_s=pending_change_s,
            blocks_generated=s.blocks_generated,
            steps_blocks=tuple(sorted(s.steps_blocks.items())),
            splices=s.splices,
            playing=out.playing,
            primed=out.primed,
            played_s=out.frames_played / rate,
            next_boundary_s=((nxt - read) / rate) if nxt is not None else 0.0,
            context_s=self.generator.context_frames / self.generator.sample_rate,
            steps_override=self._steps_override,
            last_error=s.last_error,
            capture_overflow_frames=out.capture_overflow_frames,
            clipped_samples_pre_limiter=out.clipped_samples_pre_limiter,
            over_full_scale_samples=out.over_full_scale_samples,
        )
