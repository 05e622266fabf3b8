"""One running engine and its connections: generator, parameter mailbox, capture hub, audio backend.

The Session holds exactly one `EngineRuntime` at a time and replaces it on a model switch or an audio
settings change. This class is the only part of the app that reaches into engine objects for positions
and meters, so the Session reads plain numbers.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.app.capture_chain import CaptureFanout
from lmd_studio.app.countdown import Landing
from lmd_studio.app.engine_parts import EngineParts
from lmd_studio.app.timeline_model import TimelineModel
from lmd_studio.audio.backend import AudioStatus
from lmd_studio.core.generator import BlockControls, BlockGenerator
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.beat_clock import BeatReading, ClockMap
from lmd_studio.engine.metrics import EngineMetrics
from lmd_studio.rt.mailbox import ParamMailbox


class EngineRuntime:
    def __init__(self, parts: EngineParts, fanout: CaptureFanout, timeline: TimelineModel) -> None:
        self.parts = parts
        self._fanout = fanout
        self._timeline = timeline
        self._started = False
        parts.engine.add_block_listener(timeline.on_block)

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._fanout.restart()
        self.parts.capture.add_sink(self._fanout)
        self.parts.capture.add_track_sink(self._fanout)
        self.parts.start()
        self._started = True

    def shutdown(self) -> int:
        """Stop audio, capture and generation; returns the stream position reached (for the next one)."""
        if not self._started:
            return self.stream_play_position
        self.parts.stop()  # backend first: nothing more is played or captured
        self.parts.capture.remove_sink(self._fanout)
        self.parts.capture.remove_track_sink(self._fanout)
        self._started = False
        return self.stream_play_position

    # --- parts --------------------------------------------------------------------------------------
    @property
    def generator(self) -> BlockGenerator:
        return self.parts.generator

    @property
    def mailbox(self) -> ParamMailbox:
        return self.parts.mailbox

    @property
    def sample_rate_hz(self) -> int:
        return self.parts.backend.sample_rate_hz

    @property
    def channels(self) -> int:
        return self.parts.backend.channels

    @property
    def ahead_target_s(self) -> float:
        return self.parts.engine.config.ahead_s

    # --- transport ---------------------------------------------------------------------------------
    def play(self) -> None:
        self.parts.engine.send(cmd.Play())

    def stop(self) -> None:
        self.parts.engine.send(cmd.Stop())

    def reset(self, seed: int) -> None:
        self.parts.engine.send(cmd.Reset(seed))

    def set_safe_mode(self, enabled: bool) -> None:
        self.parts.engine.send(cmd.SetSafeMode(enabled))

    def set_rewind_memory(self, megabytes: int) -> None:
        """Memory for the generator states kept to rewind."""
        self.parts.engine.send(cmd.SetHistoryBudget(int(megabytes) * 2**20))

    def rewind_to(self, stream_position: int) -> bool:
        """Play again from the block heard at `stream_position` (False: before this engine's stream)."""
        position = stream_position - self._timeline.base
        if position < 0:
            return False
        self.parts.engine.send(cmd.Rewind(position))
        return True

    def set_quantise(self, grid: str) -> None:
        """Where model changes land while a tempo is set: "off", "beat" or "bar"."""
        self.parts.engine.send(cmd.SetQuantise(grid))

    def land_now(self) -> None:
        """The changes written to the mailbox so far land at once, whatever the quantise setting."""
        self.parts.engine.send(cmd.LandNow(self.mailbox.model_version))

    def wake(self) -> None:
        self.parts.engine.wake()

    @property
    def playing(self) -> bool:
        return self.parts.engine.output.playing

    # --- readings ------------------------------------------------------------------------------------
    @property
    def metrics(self) -> EngineMetrics:
        return self.parts.engine.metrics

    @property
    def controls_in_use(self) -> BlockControls:
        """The controls the worker makes its next block with, as it last read them from the mailbox."""
        return self.parts.engine.controls_in_use

    def live_metrics(self) -> EngineMetrics:
        """`metrics` with the playback counters read now (see GenerationEngine.live_metrics)."""
        return self.parts.engine.live_metrics()

    def take_peak(self) -> float:
        return self.parts.engine.output.take_peak()

    def audio_status(self) -> AudioStatus:
        return self.parts.backend.status()

    @property
    def stream_play_position(self) -> int:
        return self._timeline.base + self.parts.engine.ring.read_position

    @property
    def stream_write_position(self) -> int:
        return self._timeline.base + self.parts.engine.ring.write_position

    @property
    def capture_position(self) -> int:
        """Continuous capture position of the newest frame the device has played."""
        ring = self.parts.engine.capture_ring
        return self._fanout.offset + (ring.write_position if ring is not None else 0)

    # --- the musical clock (positions here are stream positions, like the timeline's) ---------------------
    @property
    def clock_map(self) -> ClockMap:
        return self.parts.engine.clock_map

    def beat_at_playhead(self) -> BeatReading | None:
        """Bar, beat and tempo where the music is now (None: no tempo)."""
        return self.clock_map.reading(self.parts.engine.ring.read_position)

    def beat_grid(self) -> tuple[float, float, float] | None:
        """(perf_counter s, beat, bpm): the beat of the engine's clock heard at that moment (the sample at the
        playhead leaves the device then), counted from bar 1's downbeat (so a multiple of the meter is a bar
        line), for MIDI clock out to send its ticks — and Start on a bar — with the music we play. None while
        stopped or with no tempo. Any thread may call it (the clock-out thread does)."""
        heard = self._heard_at(self.parts.engine.ring.read_position)
        if heard is None:
            return None
        heard_s, reading, _ = heard
        return heard_s, (reading.bar - 1) * reading.beats_per_bar + reading.beat_in_bar, reading.bpm

    def next_block_phase(self) -> tuple[float, float, int, int] | None:
        """(perf_counter s when it is heard, beat in bar, beats per bar, ring position) where the next block
        to be generated starts: the first place a clock shift can still be heard. None while stopped or
        with no tempo. Any thread may call it."""
        heard = self._heard_at(self.parts.engine.metrics.next_block_position)
        if heard is None:
            return None
        heard_s, reading, position = heard
        return heard_s, reading.beat_in_bar, reading.beats_per_bar, position

    def _heard_at(self, position: int) -> tuple[float, BeatReading, int] | None:
        """(perf_counter s when ring `position` is heard, the clock's reading there, `position`); None while
        stopped or where there is no tempo."""
        engine = self.parts.engine
        if not (engine.output.playing and engine.output.primed):
            return None
        reading = engine.clock_map.reading(position)
        if reading is None:
            return None
        return engine.output.frame_play_time_s(position), reading, position

    def shift_beats(self, beats: float) -> None:
        """From the next block on, the clock's count runs `beats` further on (lines its bars up with Link)."""
        self.parts.engine.send(cmd.ShiftBeats(beats))

    def grid_lines(self, start: int, end: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(beat lines that are not bar lines, bar lines, the bar number each bar line starts) in stream
        positions [start, end)."""
        base = self._timeline.base
        clock = self.clock_map
        a, b = max(0, start - base), max(0, end - base)
        bars = clock.lines(a, b, per_bar=True)
        beats = clock.lines(a, b)
        beats = beats[~np.isin(beats, bars)]
        readings = [clock.reading(int(p)) for p in bars]
        numbers = tuple(r.bar if r is not None else 0 for r in readings)
        return tuple(int(p) + base for p in beats), tuple(int(p) + base for p in bars), numbers

    def carry_clock_from(self, reading: BeatReading | None) -> None:
        """This (new, not yet started) engine's bar count carries on where the one it replaces stopped."""
        if reading is not None:
            self.parts.engine.clock.carry_on(reading.bar, reading.beat_in_bar)

    def waiting_change(self) -> Landing | None:
        """The change waiting in the engine for its grid line (None: none waits)."""
        m = self.parts.engine.metrics
        read = self.parts.engine.ring.read_position
        if m.landing_position < 0 or m.landing_position <= read:
            return None
        beats = self.clock_map.beats_between(read, m.landing_position)
        return Landing((m.landing_position - read) / self.sample_rate_hz, beats, m.landing_skipped,
                       m.landing_per_bar)

    @property
    def context_frames(self) -> int:
        g = self.parts.generator
        return int(round(g.context_frames / g.sample_rate * self.sample_rate_hz))
