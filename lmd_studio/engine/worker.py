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

Quantised changes (quantise.py): with a tempo and quantise on "beat" or "bar", a change waits for the next
line of the musical clock (beat_clock.py) that a splice can still be centred on; the block holding that
line is generated with the old controls, then spliced with the new ones so that the crossfade's centre
sits on the line's sample. The clock follows the audio: its tempo changes where the new audio is heard.

`step()` does one unit of work and is what tests and the offline renderer call synchronously; `start()`
runs it on a thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any

import numpy as np

from lmd_studio.core.generator import BlockControls, BlockGenerator
from lmd_studio.dsp.limiter import PeakLimiter
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.beat_clock import ClockMap, EngineClock
from lmd_studio.engine.block_runner import BlockRunner
from lmd_studio.engine.delay_mix import delay_lookahead_s, output_gain
from lmd_studio.engine.metrics import EngineMetrics
from lmd_studio.engine.output import OutputStage
from lmd_studio.engine.quantise import Landing, check_quantise, plan_landing, splice_start
from lmd_studio.engine.resample import StreamConverter
from lmd_studio.engine.state_history import KeptBlock, StateHistory
from lmd_studio.engine.worker_types import (
    REGEN_HEADROOM,
    BlockListener,
    EngineConfig,
    Probe,
    QueuedBlock,
    WorkerStats,
)
from lmd_studio.rt.mailbox import MailboxSnapshot, ParamMailbox
from lmd_studio.rt.ring import SpscRing


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
                                  initial_gain=output_gain(mailbox.snapshot().controls), limiter=limiter)
        self._commands: queue.Queue[cmd.Command] = queue.Queue()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False
        self.stats = WorkerStats()
        self.history = StateHistory(config.history_budget_bytes)
        self._probes: list[Probe] = []
        self._runner = BlockRunner(generator, self.stats, config.safe_mode)
        self.metrics = EngineMetrics(generator_name=generator.name)
        self._published_at_s = 0.0
        self._block_listeners: tuple[BlockListener, ...] = ()
        self.clock = EngineClock(rate)
        self._quantise = config.quantise
        self._landing: Landing | None = None  # a change waiting for its grid line
        self._now_up_to = -1  # mailbox model versions up to this one land at once (cmd.LandNow)
        self._reset_stream(config.seed)
        self._snapshot: MailboxSnapshot = mailbox.snapshot()  # what blocks are generated with
        self._latest = self._snapshot  # the newest snapshot read (ahead of _snapshot while a change waits)

    # --- derived sizes --------------------------------------------------------------------------
    @property
    def block_s(self) -> float:
        return self.generator.block_frames / self.generator.sample_rate

    @property
    def block_device_frames(self) -> int:
        return int(round(self.block_s * self.config.device_sample_rate_hz))

    @property
    def crossfade_frames(self) -> int:
        return int(self.config.crossfade_s * self.config.device_sample_rate_hz)

    @property
    def clock_map(self) -> ClockMap:
        """The musical clock as of now (immutable; read from any thread)."""
        return self.clock.map

    def _dev_pos_of_block(self, block_index: int) -> int:
        """Ring position of block `block_index`'s first frame within the current epoch."""
        return self._dev_pos_in_epoch(block_index, self._epoch_block, self._epoch_dev, self._converter.ratio)

    def _dev_pos_in_epoch(self, block_index: int, epoch_block: int, epoch_dev: int, ratio: float) -> int:
        """Ring position of block `block_index`'s first frame in an epoch whose block `epoch_block` starts at
        `epoch_dev` (device frames per model frame: `ratio`)."""
        model_frames = (block_index - epoch_block) * self.generator.block_frames
        return epoch_dev + int(round(model_frames * ratio))

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

    def _on_the_clock(self, controls: BlockControls, dev_start: int) -> BlockControls:
        """`controls` placed at `dev_start`: its stream position (jam mode lines the input up with it), and the
        engine clock's bar position there, so a clocked model's bars fall on the engine's bar lines (the model
        would otherwise count on from its own state, and drift from the engine after a splice or a tempo
        change inside a block)."""
        reading = self.clock.map.reading(dev_start) if controls.bpm is not None else None
        beat = None if reading is None else reading.beat_in_bar
        bar = None if reading is None else reading.bar - 1  # readings count bars from 1, as musicians do
        return replace(controls, stream_position=dev_start, bar_position_beats=beat, bar_number=bar)

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
        did = self._take_changes() or did
        if self._needs_block():
            self._generate_next()
            did = True
        if self._landing is not None and not self._landing.spliced:
            did = self._land() or did
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
                self._land_at_once()
            elif isinstance(c, cmd.Reset):
                self._land_at_once()
                self.ring.flush()
                self._reset_stream(c.seed)
            elif isinstance(c, cmd.Seek):
                self._land_at_once()
                kept = self.history.by_index(c.block_index)
                self._seek(kept, f"block {c.block_index}")
            elif isinstance(c, cmd.Rewind):
                self._land_at_once()
                self._adopt_mailbox()  # the new take plays with the controls as they are now (a new seed…)
                self._rewind(self.history.at(c.position), f"position {c.position}")
            elif isinstance(c, cmd.ShiftBeats):
                self.clock.shift(self._dev_pos_of_block(self._block_index), c.beats)
            elif isinstance(c, cmd.SetHistoryBudget):
                self.history.set_budget(c.budget_bytes)
            elif isinstance(c, cmd.SetSafeMode):
                self._runner.set_safe_mode(c.enabled)
            elif isinstance(c, cmd.SetQuantise):
                self._quantise = check_quantise(c.grid)
                if c.grid == "off" and self._land_at_once() and self._can_splice():
                    self._splice()
            elif isinstance(c, cmd.LandNow):
                self._now_up_to = max(self._now_up_to, c.model_version)
                if self._land_at_once() and self._can_splice():
                    self._splice()
            elif isinstance(c, cmd.Shutdown):
                self._running = False

    def _reset_stream(self, seed: int) -> None:
        self._state = self.generator.init_state(seed)
        self._block_index = 0
        self._new_epoch(block_index=0)
        self._queued: deque[QueuedBlock] = deque()
        self.history.clear()
        self._probes.clear()
        self.output.primed = False
        self.clock.truncate(self.ring.write_position)  # the beat count runs on from where the audio resumes

    def _new_epoch(self, block_index: int, dev_start: int | None = None) -> None:
        self._converter = StreamConverter(self.generator.sample_rate, self.config.device_sample_rate_hz,
                                          self.generator.channels, self.config.device_channels)
        self._epoch_block = block_index
        self._epoch_dev = self.ring.write_position if dev_start is None else dev_start
        self._pending = np.zeros((0, self.config.device_channels), dtype=np.float32)

    def _seek(self, kept: KeptBlock | None, what: str) -> None:
        """Go on from `kept`'s starting state: the queued audio is dropped and the output waits (silent, not
        a dropout) until the new blocks are primed."""
        if kept is None:
            self.stats.last_error = f"seek: {what} is no longer in the history"
            return
        self.ring.flush()
        self._queued.clear()
        self._probes.clear()
        self._state = kept.state
        self._block_index = kept.block_index
        self._new_epoch(kept.block_index)
        self.output.primed = False
        self.clock.truncate(self.ring.write_position)

    def _adopt_mailbox(self) -> None:
        """Take the mailbox as it is now for what is generated next, without splicing it in."""
        snap = self.mailbox.snapshot()
        self.output.gain.target_gain = output_gain(snap.controls)
        self._latest = self._snapshot = snap

    def _rewind(self, kept: KeptBlock | None, what: str) -> None:
        """Go back to `kept`: its block starts again just past the playhead, crossfaded out of the queued
        audio like a splice (no gap); with nothing queued to fade from (stopped, priming), as a seek."""
        if kept is not None and self._can_splice():
            splice_at = self.ring.read_position + self.splice_margin_frames
            i = next((k for k, b in enumerate(self._queued) if b.dev_start <= splice_at < b.dev_end), None)
            if i is not None and splice_at + self.crossfade_frames < self.ring.write_position:
                # the kept block, placed to start at the cut: the splice regenerates it from its state there
                old = self._queued[i]
                self._queued[i] = QueuedBlock(kept.block_index, kept.state, self._snapshot.model_version, splice_at,
                                              splice_at + self.block_device_frames)
                if self._splice_block(i, splice_at, self._snapshot, exact=False):
                    return
                self._queued[i] = old
        self._seek(kept, what)

    # --- snapshot and controls ----------------------------------------------------------------------
    def _take_changes(self) -> bool:
        """Read the mailbox if it changed. A change to the model's inputs lands at once (spliced in just
        past the playhead) or, quantised, waits for its grid line (`_land`). Returns whether it spliced or
        planned a landing (both worth publishing at once)."""
        if self.mailbox.version == self._latest.version:
            return False
        snap = self.mailbox.snapshot()
        self.output.gain.target_gain = output_gain(snap.controls)
        model_changed = snap.model_version != self._latest.model_version
        self._latest = snap
        waiting = self._landing is not None and not self._landing.spliced
        if not model_changed:
            if waiting:
                assert self._landing is not None
                self._landing.snapshot = snap
            else:
                self._snapshot = snap
            return False
        plan = None
        if self._can_splice() and snap.model_version > self._now_up_to:
            xf = self.crossfade_frames
            read = self.ring.read_position
            plan = plan_landing(self.clock.map, read, read + self.splice_margin_frames + xf // 2, self._quantise)
        if plan is not None:
            self._landing = Landing(snap, plan)  # a change that lands on the same line again re-splices it
            return True
        self._landing = None
        self._snapshot = snap
        return self._can_splice() and self._splice()

    def _land_at_once(self) -> bool:
        """A change waiting for its grid line is taken now (stop, seek, "now", quantise off). Returns
        whether there was one still to be heard."""
        landing, self._landing = self._landing, None
        if landing is None:
            return False
        if not landing.spliced:
            self._snapshot = landing.snapshot
        return landing.plan.position > self.ring.read_position

    def _land(self) -> bool:
        """Splice the waiting change in on its line once the block holding the line is queued; when the
        line can no longer be met, plan the following one. Returns whether it spliced."""
        landing = self._landing
        assert landing is not None
        xf = self.crossfade_frames
        splice_at = splice_start(landing.plan.position, xf)
        queued = splice_at + xf < self.ring.write_position
        if not queued and splice_at >= self.ring.read_position + self.splice_margin_frames:
            return False  # the block holding the line is not generated yet, and there is still time
        i = (next((k for k, b in enumerate(self._queued) if b.dev_start <= splice_at < b.dev_end), None)
             if queued else None)
        # after the splice the queue ends with that block: regenerating it and then the next block must
        # both fit before the playhead gets there
        room = i is not None and (self._queued[i].dev_end - self.ring.read_position
                                  >= self.splice_margin_frames + self.regen_frames + xf)
        if room and i is not None and self._splice_block(i, splice_at, landing.snapshot, exact=True):
            landing.spliced = True
            self._snapshot = landing.snapshot
            self.stats.landings += 1
            return True
        read = self.ring.read_position
        earliest = max(read + self.splice_margin_frames + xf // 2, landing.plan.position + 1)
        plan = plan_landing(self.clock.map, read, earliest, self._quantise)
        if plan is None:  # the tempo went away meanwhile: now, then
            self._landing = None
            self._snapshot = landing.snapshot
            return self._can_splice() and self._splice()
        landing.plan = plan
        return False

    def block_controls(self, snapshot: MailboxSnapshot | None = None) -> BlockControls:
        """The controls the next block is generated with (or `snapshot`'s): the mailbox's as last taken,
        with the steps override applied."""
        return self._runner.controls((snapshot or self._snapshot).controls)

    # --- generation ---------------------------------------------------------------------------------
    def _needs_block(self) -> bool:
        if self._pending.shape[0]:
            self._flush_pending()
        queued = self.ring.readable_frames + self._pending.shape[0]
        ahead_frames = self._ahead_frames()
        if not self.output.playing and self.output.primed:
            return False  # stopped: keep what is queued, do not run ahead
        room = self.ring.writable_frames - self._pending.shape[0] >= 2 * self.block_device_frames
        return queued < ahead_frames and room

    def _ahead_frames(self) -> float:
        """Device frames to keep queued: the configured look-ahead, shortened under generative delay so the
        model hears the input it answers (engine/delay_mix.delay_lookahead_s), never below one generation
        (slowest recent, with headroom) plus the safety frames — real time comes first."""
        rate = self.config.device_sample_rate_hz
        block_s = self.block_device_frames / rate
        wanted_s = delay_lookahead_s(self._latest.controls, block_s, self.config.ahead_s)
        if wanted_s >= self.config.ahead_s:
            return self.config.ahead_s * rate
        return max(wanted_s * rate, float(self.safety_frames + 2 * self.regen_frames))

    def _generate_next(self) -> None:
        controls = self.block_controls()
        version = self._snapshot.model_version
        state_before = self._state
        dev_start = self._dev_pos_of_block(self._block_index)
        self.clock.set_tempo(dev_start, controls.bpm, controls.beats_per_bar)
        audio, next_state, _ = self._runner.run(state_before, self._on_the_clock(controls, dev_start))
        block = QueuedBlock(self._block_index, state_before, version, dev_start,
                             self._dev_pos_of_block(self._block_index + 1))
        if self._queued and self._queued[-1].model_version != version:
            self._probes.append(Probe(dev_start, self._snapshot.changed_at_s))
        self._remember(self._block_index, state_before)
        self._queued.append(block)
        self._state = next_state
        self._block_index += 1
        position = self.ring.write_position + self._pending.shape[0]
        frames = self._converter.process(audio)
        self._write(frames)
        if self._block_listeners:
            self._notify_block(position, frames, block.index, False)
        self._runner.adapt_safe_mode(self._snapshot.controls, self.block_s)

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

    def _remember(self, index: int, state: Any) -> None:
        """Keep block `index`'s starting state (its place in the ring from the current epoch)."""
        self.history.remember(index, self._dev_pos_of_block(index), self._dev_pos_of_block(index + 1), state)

    # --- low-latency splice -----------------------------------------------------------------------
    @property
    def regen_frames(self) -> int:
        """Device frames that one block's generation may take (slowest recent time plus headroom)."""
        recent = self.stats.block_ms_recent
        worst_ms = max(recent) if recent else self.stats.block_ms_mean
        return int(REGEN_HEADROOM * worst_ms / 1000.0 * self.config.device_sample_rate_hz)

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
        xf = self.crossfade_frames
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
        if not self._splice_block(i, splice_at, self._snapshot, exact=False):
            return False
        self._probes.append(Probe(self.stats.last_splice_position or splice_at, self._snapshot.changed_at_s))
        return True

    def _splice_block(self, i: int, splice_at: int, snapshot: MailboxSnapshot, exact: bool) -> bool:
        """Regenerate queued block `i` with `snapshot`'s controls and crossfade into it at `splice_at`
        (`exact`: there or not at all; else as soon after it as the playhead allows). A crossfade that runs
        past the block's end (a grid line just after a block boundary) regenerates the next block too."""
        xf = self.crossfade_frames
        block = self._queued[i]
        controls = self.block_controls(snapshot)
        version = snapshot.model_version
        audio, next_state, _ = self._runner.run(block.state_before, self._on_the_clock(controls, block.dev_start))
        converter = StreamConverter(self.generator.sample_rate, self.config.device_sample_rate_hz,
                                    self.generator.channels, self.config.device_channels)
        fresh = converter.process(audio)  # fresh[0] sits at ring position block.dev_start
        made = [(block.index, block.state_before)]  # the blocks regenerated and the state each began from
        while exact and splice_at - block.dev_start + xf >= fresh.shape[0]:
            made.append((made[-1][0] + 1, next_state))
            # placed where it will sit once this splice's epoch starts at `block`
            dev_next = self._dev_pos_in_epoch(made[-1][0], block.index, block.dev_start, converter.ratio)
            audio, next_state, _ = self._runner.run(next_state, self._on_the_clock(controls, dev_next))
            fresh = np.concatenate([fresh, converter.process(audio)])
        # the playhead moved while we regenerated: re-check where we may still cut
        earliest = self.ring.read_position + 2 * self.ring.max_read_frames + xf
        if exact and splice_at < earliest:
            self.stats.splice_misses += 1
            return False
        splice_at = max(splice_at, earliest)
        offset = splice_at - block.dev_start
        write_pos = self.ring.write_position
        # what will be queued once the tail is written must cover the next generation and the safety margin
        fresh_end = block.dev_start + fresh.shape[0]
        if (fresh_end - self.ring.read_position < self.regen_frames + self.safety_frames or offset + xf >= fresh.shape[0]
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
        self._converter = converter
        self._epoch_block = block.index
        self._epoch_dev = block.dev_start
        for index, state in made:
            self._queued.append(QueuedBlock(index, state, version, self._dev_pos_of_block(index),
                                            self._dev_pos_of_block(index + 1)))
            self._remember(index, state)
        self._state = next_state
        self._block_index = made[-1][0] + 1
        self._pending = np.zeros((0, self.config.device_channels), dtype=np.float32)
        self._probes = [p for p in self._probes if p.position < splice_at]
        self.stats.last_splice_position = splice_at
        centre = splice_at + xf // 2  # the new audio is heard from here: so is its tempo
        self.clock.truncate(centre)
        self.clock.set_tempo(centre, controls.bpm, controls.beats_per_bar)
        self._write(tail)
        if self._block_listeners:
            self._notify_block(splice_at, tail, block.index, True)
            for index, _ in made[1:]:  # the boundary of a block regenerated whole, for the timeline
                at = self._dev_pos_of_block(index)
                self._notify_block(at, tail[at - splice_at:], index, False)
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
        if self._landing is not None and self._landing.spliced and self._landing.plan.position <= read:
            self._landing = None  # heard
        self.clock.trim(read - int(self.config.clock_history_s * self.config.device_sample_rate_hz))

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

    def _history_s(self) -> float:
        """How far back from the playhead the kept states reach (what a rewind can go back to)."""
        oldest = self.history.oldest_start
        if oldest is None:
            return 0.0
        return max(0, self.ring.read_position - oldest) / self.config.device_sample_rate_hz

    def _publish(self) -> None:
        rate = self.config.device_sample_rate_hz
        out = self.output
        lateness = out.lateness_ms()
        read = self.ring.read_position
        nxt = next((b.dev_start for b in self._queued if b.dev_start > read), None)
        s = self.stats
        pending_change_s = (self.splice_margin_frames / rate if self._can_splice()
                            else self.ring.readable_frames / rate)
        now_change_s = pending_change_s
        plan = None
        if self._can_splice():  # quantised: the line a change made now would land on
            plan = plan_landing(self.clock.map, read, read + self.splice_margin_frames + self.crossfade_frames // 2,
                                self._quantise)
            pending_change_s = (plan.position - read) / rate if plan is not None else pending_change_s
        landing = self._landing
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
            now_change_s=now_change_s,
            blocks_generated=s.blocks_generated,
            steps_blocks=tuple(sorted(s.steps_blocks.items())),
            splices=s.splices,
            playing=out.playing,
            primed=out.primed,
            played_s=out.frames_played / rate,
            next_boundary_s=((nxt - read) / rate) if nxt is not None else 0.0,
            context_s=self.generator.context_frames / self.generator.sample_rate,
            steps_override=self._runner.steps_override,
            last_error=s.last_error,
            capture_overflow_frames=out.capture_overflow_frames,
            history_bytes=self.history.bytes,
            next_block_position=self._dev_pos_of_block(self._block_index),
            history_s=self._history_s(),
            clipped_samples_pre_limiter=out.clipped_samples_pre_limiter,
            over_full_scale_samples=out.over_full_scale_samples,
            quantise=self._quantise,
            landing_position=landing.plan.position if landing is not None else -1,
            landing_per_bar=landing is not None and landing.plan.per_bar,
            landing_skipped=landing.plan.skipped if landing is not None else 0,
            landings=s.landings,
        )


__all__ = ["EngineConfig", "GenerationEngine", "QueuedBlock"]
