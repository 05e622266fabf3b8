"""Worker side of produced music: read one clip of a track, refuse silence, measure or read its tempo and key.

Reads only the clip and its neighbourhood (soundfile seeks sample-exactly in OGG/MP3/FLAC), so a job costs
the same whatever the track's length. Tempo and key come from the track's MIDI grid when it has one (exact);
otherwise they are estimated from the audio (dsp/rhythm, dsp/tonality) and kept only when the clip and a
three-times-longer window around it agree: on the Frets on Fire songs, whose grid is known, that agreement
removed nearly all wrong tempi except the octave (half/double) readings any detector gives (`lmd data build`
report, issue 15). Estimated values are marked as such; the grid of an estimated clip is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soundfile as sf

from lmd_studio.data.grid import map_to_dict
from lmd_studio.data.midi_tempo import read_track_grid
from lmd_studio.data.produced import TrackRef
from lmd_studio.dsp.resample import resample, to_mono
from lmd_studio.dsp.rhythm import estimate_tempo_bpm, onset_envelope
from lmd_studio.dsp.tonality import KK_MAJOR, KK_MINOR, chromagram, estimate_key

SILENT_DBFS = -55.0  # a 100-ms window quieter than this is silence
MIN_ACTIVE = 0.5  # a clip with less than half its windows above that is skipped
TEMPO_AGREEMENT = 0.02  # clip and context estimates within 2 %
MIN_KEY_CORRELATION = 0.5


@dataclass(frozen=True, slots=True)
class ClipEstimate:
    bpm: float | None  # kept estimate (None: not confident)
    detected_bpm: float  # the clip's raw estimate (nan when there is no pulse)
    context_bpm: float  # the estimate over the context window
    confidence: float
    key: str | None
    key_correlation: float


def _read(path, start_frame: int, frames: int) -> tuple[np.ndarray, int]:
    with sf.SoundFile(str(path)) as fh:
        start = max(0, min(start_frame, fh.frames))
        fh.seek(start)
        return fh.read(max(0, min(frames, fh.frames - start)), dtype="float32", always_2d=True), fh.samplerate


def read_span(track: TrackRef, start_s: float, duration_s: float, sample_rate_hz: int) -> np.ndarray:
    """[N] float32 mono at sample_rate_hz: the track's stems summed over [start_s, start_s + duration_s)."""
    mix: np.ndarray | None = None
    for stem in track.stems:
        sr = sf.info(str(stem)).samplerate
        data, sr = _read(stem, int(round(start_s * sr)), int(round(duration_s * sr)))
        x = resample(to_mono(data), sr, sample_rate_hz)
        if mix is None:
            mix = x
        else:
            n = max(mix.size, x.size)
            mix = np.pad(mix, (0, n - mix.size)) + np.pad(x, (0, n - x.size))
    if mix is None or not np.all(np.isfinite(mix)):
        raise ValueError("no audio or non-finite samples")
    return mix[: int(round(duration_s * sample_rate_hz))].astype(np.float32)


def active_fraction(audio: np.ndarray, sample_rate_hz: int, window_s: float = 0.1) -> float:
    """Share of `window_s` windows louder than SILENT_DBFS."""
    n = max(1, int(window_s * sample_rate_hz))
    frames = audio[: audio.size // n * n].reshape(-1, n)
    if not frames.size:
        return 0.0
    level_db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-20)
    return float(np.mean(level_db > SILENT_DBFS))


def check_not_silent(audio: np.ndarray, sample_rate_hz: int) -> None:
    share = active_fraction(audio, sample_rate_hz)
    if share < MIN_ACTIVE:
        raise ValueError(f"clip is mostly silent ({share:.0%} of it above {SILENT_DBFS:g} dBFS)")


def estimate(clip: np.ndarray, context: np.ndarray, sample_rate_hz: int) -> ClipEstimate:
    bpm, confidence = estimate_tempo_bpm(onset_envelope(clip, sample_rate_hz))
    wide, _ = estimate_tempo_bpm(onset_envelope(context, sample_rate_hz))
    agree = bool(np.isfinite(bpm) and np.isfinite(wide) and abs(bpm / wide - 1.0) <= TEMPO_AGREEMENT)
    # the KK profiles the corpus was labelled with (a rebuild must reproduce its labels; the audio profiles
    # of dsp/tonality.py find the notes' key more often, see its AUDIO_MAJOR)
    key, corr = estimate_key(chromagram(clip, sample_rate_hz), (KK_MAJOR, KK_MINOR))
    wide_key, _ = estimate_key(chromagram(context, sample_rate_hz), (KK_MAJOR, KK_MINOR))
    keep_key = corr >= MIN_KEY_CORRELATION and key == wide_key
    return ClipEstimate(round(bpm, 2) if agree else None, float(bpm), float(wide), float(confidence),
                        key.name if keep_key else None, float(corr))


def exact_grid(track: TrackRef, start_s: float, clip_s: float) -> tuple[dict, str, float]:
    """(render["tempo_map"], time signature, bpm at the clip's start) from the track's MIDI grid."""
    if track.grid_path is None:
        raise ValueError(f"{track.key} has no grid")
    grid = read_track_grid(track.grid_path)
    if grid is None:
        raise ValueError(f"{track.grid_path}: a meter or tempo the clock cannot represent")
    clip_map = grid.clip(start_s, clip_s)
    return map_to_dict(clip_map), grid.meter_at(start_s), clip_map.segments[0].bpm
