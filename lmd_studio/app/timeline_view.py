"""The timeline (`session.timeline`): what to draw for a span of stream time, and saving a stretch of it
that has already played.

With the audio input on, the frame also carries the input's waveform on the same stream timeline (what the
player played while hearing each moment) and, in jam mode, how far the model has heard it.

A frame is only rebuilt when something it shows changed, so the view can skip redrawing an identical one.
A selection is in stream seconds; the music there is found in the captured audio through the position map
(capture_chain.PositionMap), without the silence the device played while the stream stood still. A loop
(`capture_loop`) is the last N whole bars on the engine's musical clock, found the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.recording import RecordingDesk
from lmd_studio.app.timeline_model import TimelineConfig, TimelineModel
from lmd_studio.app.values import TimelineFrame
from lmd_studio.core.musical_key import Key
from lmd_studio.core.params import JAM, PITCH, PROGRESSION
from lmd_studio.core.progression import Progression, chord_for_bar, chord_name, progression_from_knob
from lmd_studio.engine.loop_capture import LoopSpec

LOOP_SEAM_S = 0.01  # the loop's wrap crossfade (engine/loop_capture.py)
LOOP_LOOKBACK_S = 200.0  # bar lines are looked for this far back (16 bars of 4/4 at 20 bpm fit)


class TimelineView:
    def __init__(self, engine: EngineHost, recording: RecordingDesk,
                 notify: Callable[[str, str], None] = lambda _level, _text: None) -> None:
        self._engine = engine
        self._recording = recording
        self._notify = notify
        self._cache: tuple[tuple[Hashable, ...], TimelineFrame] | None = None  # frame()'s last answer
        # the audio input's peaks, on the same stream timeline, read as it arrives (only what is new per frame)
        self._input: TimelineModel | None = None
        self._input_read_to = 0  # ring position of the current engine up to which the input was read

    def frame(self, span_s: float, columns: int, spectrogram: bool = False,
              end_fraction: float = 0.25) -> TimelineFrame:
        """What to draw: `span_s` of stream time with the playhead `end_fraction` from the right edge."""
        tl = self._engine.timeline
        runtime = self._engine.runtime
        rate = runtime.sample_rate_hz
        play = runtime.stream_play_position
        ahead = max(runtime.stream_write_position, play)
        clock = runtime.clock_map  # replaced whole on every tempo change
        input_tl = self._read_input()
        jam = self._jam_on()
        chords = self._progression_in_key()
        key = (span_s, columns, spectrogram, end_fraction, rate, play, ahead, runtime.context_frames,
               id(tl), tl.version, id(clock), None if input_tl is None else input_tl.version, jam, chords)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]  # nothing changed: the same object, so the view can skip redrawing
        start = max(0, int(play - (1.0 - end_fraction) * span_s * rate))
        end = start + int(span_s * rate)
        beats, bars, bar_numbers = runtime.grid_lines(start, end)
        frame = TimelineFrame(
            sample_rate_hz=rate, play_s=play / rate, ahead_s=ahead / rate,
            context_start_s=max(0, ahead - runtime.context_frames) / rate,
            wave=tl.waveform(start, end, columns), spec=tl.spectrogram(start, end, columns) if spectrogram else None,
            boundaries_s=tuple(p / rate for p, _ in tl.boundaries(start, end)),
            markers=tuple(tl.markers(start, end)), oldest_s=tl.oldest_position() / rate,
            beat_lines_s=tuple(p / rate for p in beats), bar_lines_s=tuple(p / rate for p in bars),
            bar_numbers=bar_numbers, bar_chords=_bar_chords(chords, bars, bar_numbers, play),
            input_wave=None if input_tl is None else input_tl.waveform(start, end, columns),
            heard_s=input_tl.end_position / rate if input_tl is not None and jam else None)
        self._cache = (key, frame)
        return frame

    def _read_input(self) -> TimelineModel | None:
        """The input's peaks with what arrived since the last frame added (None: input off)."""
        runtime = self._engine.runtime
        view = runtime.parts.input_view
        if view is None:
            self._input = None
            return None
        tl = self._engine.timeline
        if self._input is None or self._input.config.sample_rate_hz != tl.config.sample_rate_hz:
            self._input = TimelineModel(TimelineConfig(tl.config.sample_rate_hz, history_s=tl.config.history_s))
            self._input_read_to = 0
        if self._input.base != tl.base:  # a new engine: its ring positions count from the timeline's base
            self._input.rebase(tl.base)
            self._input_read_to = 0
        arrived = view.arrived_stream_position
        if arrived is not None and arrived > self._input_read_to:
            # at most the history: after a long time with the window hidden only the newest is worth reading
            frames = min(arrived - self._input_read_to, int(tl.config.history_s * tl.config.sample_rate_hz))
            self._input.on_block(arrived - frames, view.for_stream(arrived, frames), 0, True)
            self._input_read_to = arrived
        return self._input

    def _progression_in_key(self) -> tuple[Key, Progression] | None:
        """The progression the model plays now (core/progression.py): None when it is off or silent (no
        tempo, the key on auto, a chord held on the keyboard)."""
        mailbox = self._engine.mailbox
        if PROGRESSION.name not in mailbox.registry:
            return None
        controls = mailbox.snapshot().controls
        found = progression_from_knob(controls.value(PROGRESSION))
        if found is None or controls.bpm is None or controls.held_notes or controls.is_auto(PITCH):
            return None
        return Key.from_knob(controls.value(PITCH)), found

    def _jam_on(self) -> bool:
        return self._engine.mailbox.get(JAM.name) >= 0.5 if JAM.name in self._engine.mailbox.registry else False

    def capture_loop(self, bars: int) -> BackgroundJob | None:
        """Save the last `bars` whole bars that have played (a tempo must be set) as a loop: from a downbeat,
        exactly that many bars long, a seamless wrap, tempo/beats/meter in the file and its sidecar."""
        if isinstance(bars, bool) or not 1 <= bars <= 64:
            raise ValueError(f"a loop is 1 to 64 bars, got {bars!r}")
        runtime = self._engine.runtime
        rate = runtime.sample_rate_hz
        seam = int(LOOP_SEAM_S * rate)  # frames after the loop's end that fold into its start: heard already
        play = runtime.stream_play_position
        _, bar_lines, _ = runtime.grid_lines(max(0, play - int(LOOP_LOOKBACK_S * rate)), max(0, play - seam) + 1)
        if len(bar_lines) < bars + 1:
            self._notify("warning", f"Nothing to loop yet: set a tempo and play {bars} whole "
                                    f"bar{'s' if bars > 1 else ''} first")
            return None
        a, b = bar_lines[-(bars + 1)], bar_lines[-1]
        reading = runtime.clock_map.reading(a - self._engine.timeline.base)
        beats_per_bar = reading.beats_per_bar if reading is not None else 4
        # the music of those bars in the captured audio, without what the device played while the stream
        # stood still (the spans add up to exactly the frames asked for)
        spans = tuple(self._engine.positions.spans(a, b + seam))
        if sum(end - start for start, end in spans) != b + seam - a:
            self._notify("warning", "Those bars are not in the captured audio any more")
            return None
        bpm = bars * beats_per_bar * 60.0 * rate / (b - a)  # the tempo it was played at, over the loop
        return self._recording.save_loop(LoopSpec(a, b - a, bars, beats_per_bar, round(bpm, 3),
                                                  crossfade_frames=seam, capture_spans=spans))

    def save_selection(self, start_s: float, end_s: float) -> BackgroundJob | None:
        """Save a stretch of the timeline (seconds of stream time) that has already been heard."""
        runtime = self._engine.runtime
        rate = runtime.sample_rate_hz
        a, b = sorted((int(start_s * rate), int(end_s * rate)))
        b = min(b, runtime.stream_play_position)
        # the music selected, without the silence the device played while the stream stood still
        spans = self._engine.positions.spans(a, b)
        if not spans:
            return self._recording.save_selection(None, None)
        gaps = tuple((end, start) for (_, end), (start, _) in zip(spans, spans[1:]) if start > end)
        return self._recording.save_selection(spans[0][0], spans[-1][1], gaps)


def _bar_chords(chords: tuple[Key, Progression] | None, bar_lines: tuple[int, ...] | list[int],
                bar_numbers: tuple[int, ...], play: int) -> tuple[str, ...]:
    """The chord each bar line starts, from the bar playing now on (what is coming, for a player to play
    along); "" for bars already past, and for all bars when no progression plays."""
    if chords is None:
        return ()
    in_key, progression = chords
    current = max((i for i, p in enumerate(bar_lines) if p <= play), default=0)
    return tuple(chord_name(chord_for_bar(in_key, progression, n - 1), in_key) if i >= current and n else ""
                 for i, n in enumerate(bar_numbers))
