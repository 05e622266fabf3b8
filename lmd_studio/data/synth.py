"""FluidSynth rendering of note events through a soundfont (pyfluidsynth, one synth per worker process).

Loading a soundfont costs seconds (MuseScore General decompresses its samples), so each worker keeps its
synths; between clips every channel is silenced and the reverb tail flushed so clips stay independent. The
event list is sequenced directly into the synth (render up to each event's sample time, then apply it),
which gives sample-exact note timing without writing MIDI files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DRUM_CHANNEL = 9  # GM percussion channel: never used for pitched parts
BLOCK_FRAMES = 64  # FluidSynth's internal rendering block (FLUID_BUFSIZE)


class SynthError(RuntimeError):
    pass


class FluidRenderer:
    def __init__(self, soundfont: Path, sample_rate_hz: int = 44100, gain: float = 0.35) -> None:
        try:
            import fluidsynth
        except (ImportError, OSError) as exc:
            raise SynthError(f"pyfluidsynth / libfluidsynth unavailable: {exc}") from None
        self.sample_rate_hz = sample_rate_hz
        self.soundfont = Path(soundfont)
        self._frames_rendered = 0  # FluidSynth works in blocks of BLOCK_FRAMES: see reset()
        # dynamic sample loading: only the presets a clip uses get decompressed (MuseScore sf3 loads 3x faster)
        self._synth = fluidsynth.Synth(gain=gain, samplerate=float(sample_rate_hz),
                                       **{"synth.dynamic-sample-loading": 1})
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            raise SynthError(f"{self.soundfont}: FluidSynth could not load the soundfont")

    def close(self) -> None:
        """Free the synth and its loaded samples. pyfluidsynth never frees them by itself: the re-voice
        backfill, which makes a new renderer per clip, grew by ≈ 30 MB a clip until the kernel killed it
        at 24 GB (session 10)."""
        synth, self._synth = getattr(self, "_synth", None), None
        if synth is not None:
            synth.delete()

    def __del__(self) -> None:  # the pool drops a renderer when it makes the next: freed once nobody holds it
        self.close()

    def _samples(self, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros(0, dtype=np.float32)
        raw = np.asarray(self._synth.get_samples(n), dtype=np.float32).reshape(-1, 2)  # interleaved stereo
        self._frames_rendered += n
        return raw.mean(axis=1) / 32768.0

    def reset(self) -> None:
        for ch in range(16):
            self._synth.cc(ch, 120, 0)  # all sound off
            self._synth.cc(ch, 121, 0)  # reset controllers
        # let reverb/chorus tails die out (discarded), ending on a block boundary: FluidSynth applies events at
        # its BLOCK_FRAMES grid, so a clip that starts mid-block comes out with every note shifted by up to a
        # block (1.5 ms) — the same notes rendered twice differed by 86 % RMS, and stems would not sum to the mix
        tail = self.sample_rate_hz
        self._samples(tail + (-(self._frames_rendered + tail)) % BLOCK_FRAMES)

    def render(self, notes: np.ndarray, programs: list[int], duration_s: float, reverb_send: int = 40,
               chorus_send: int = 0, volumes: list[int] | None = None) -> np.ndarray:
        """notes [n, 5] (onset_s, offset_s, pitch, velocity, part) → mono float32 audio of `duration_s`."""
        channels = [c for c in range(16) if c != DRUM_CHANNEL]
        if len(programs) > len(channels):
            raise SynthError(f"{len(programs)} parts exceed the {len(channels)} melodic MIDI channels")
        self.reset()
        for part, program in enumerate(programs):
            ch = channels[part]
            self._synth.program_select(ch, self._sfid, 0, int(program))
            self._synth.cc(ch, 7, int(volumes[part]) if volumes else 100)
            self._synth.cc(ch, 91, int(reverb_send))
            self._synth.cc(ch, 93, int(chorus_send))
        events = []
        for on_s, off_s, pitch, vel, part in np.asarray(notes, dtype=np.float64):
            ch = channels[int(part)]
            events.append((int(round(on_s * self.sample_rate_hz)), 1, ch, int(pitch), int(vel)))
            events.append((int(round(off_s * self.sample_rate_hz)), 0, ch, int(pitch), 0))
        events.sort()  # at equal times note-offs (0) come first, so repeated notes retrigger cleanly
        total = int(round(duration_s * self.sample_rate_hz))
        out, pos = [], 0
        for t, kind, ch, pitch, vel in events:
            t = min(t, total)
            out.append(self._samples(t - pos))
            pos = max(pos, t)
            if kind:
                self._synth.noteon(ch, pitch, max(1, min(127, vel)))
            else:
                self._synth.noteoff(ch, pitch)
        out.append(self._samples(total - pos))
        audio = np.concatenate(out)
        if audio.shape[0] != total:
            raise SynthError(f"rendered {audio.shape[0]} frames, expected {total}")
        return audio


class RendererPool:
    """FluidRenderers by soundfont name: a fresh one for every clip. A synth carries state from one clip
    into the next that no reset clears (measured: the same notes rendered after another clip came out up
    to 0.005 apart, 3 % of their peak, with reverb and chorus off and `system_reset`), which made a corpus
    depend on which worker rendered what before; a new synth costs 45–66 ms (samples load per preset)."""

    def __init__(self, soundfonts: dict[str, Path], sample_rate_hz: int = 44100) -> None:
        self._paths = dict(soundfonts)
        self._sample_rate_hz = sample_rate_hz
        self._renderers: dict[str, FluidRenderer] = {}

    def get(self, name: str) -> FluidRenderer:
        if name not in self._paths:
            raise SynthError(f"unknown soundfont {name!r} (have {sorted(self._paths)})")
        self._renderers[name] = FluidRenderer(self._paths[name], self._sample_rate_hz)  # the old one is freed
        return self._renderers[name]
