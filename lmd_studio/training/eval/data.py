"""The real side of the evaluation: held-out clips, their analysis windows, the two disjoint halves, noise.

Every set the evaluation compares is built the same way, clip by clip, so the sets differ only in what
is heard: a real clip (the first `max_s` seconds of a test item), a generated clip (the model streaming
for the same duration with the item's description as prompt) and a noise clip (pink noise with the same
duration and RMS) are all cut into the same 4 s analysis windows (hop 2 s; a clip shorter than a window
gives one zero-padded window, as training crops are padded).

The real clips are split into two halves that share no source group (piece, sample, drum kit): sources
joined through a layered mix fall in the same half. The real-vs-real floor is FD(half A, half B); a model
is scored as FD(generated for A's prompts, B) and FD(generated for B's prompts, A), averaged — so the
model's FD and the floor compare sets of the same sizes, built from the same prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmd_studio.data.corpus import Corpus
from lmd_studio.data.splits import SPLITS, stable_hash
from lmd_studio.dsp.resample import resample

WINDOW_S = 4.0
HOP_S = 2.0


@dataclass(frozen=True, slots=True)
class RealClip:
    item_id: str
    description: str
    groups: tuple[str, ...]
    audio: np.ndarray  # [N] mono float32 at the evaluation rate
    kind: str = ""  # manifest kind: score, sample, drums, mix

    @property
    def num_frames(self) -> int:
        return int(self.audio.shape[0])


def window_starts(num_frames: int, window_frames: int, hop_frames: int) -> list[int]:
    """Window start frames covering a clip; the tail gets its own window ending at the clip's end."""
    if window_frames <= 0 or hop_frames <= 0:
        raise ValueError(f"window and hop must be positive, got {window_frames}, {hop_frames}")
    if num_frames <= window_frames:
        return [0]
    starts = list(range(0, num_frames - window_frames + 1, hop_frames))
    if starts[-1] + window_frames < num_frames:
        starts.append(num_frames - window_frames)
    return starts


def cut_windows(audio: np.ndarray, window_frames: int, hop_frames: int) -> np.ndarray:
    """[N] mono → [n, window_frames] float32 (a clip shorter than a window is zero-padded at the end)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if x.shape[0] < window_frames:
        x = np.pad(x, (0, window_frames - x.shape[0]))
    return np.stack([x[s:s + window_frames] for s in window_starts(x.shape[0], window_frames, hop_frames)])


def load_real_clips(corpus_dir: str | Path, split: str = "test", sample_rate_hz: int = 44100,
                    max_s: float = 12.0, max_items: int | None = None) -> list[RealClip]:
    """The first `max_s` seconds of each item of `split` ("all" for every split), mono at `sample_rate_hz`."""
    corpus = Corpus.open(corpus_dir)
    if split != "all" and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or 'all', got {split!r}")
    items = corpus.items(None if split == "all" else split)
    if not items:
        raise ValueError(f"{corpus_dir}: split {split!r} has no items to evaluate on")
    # spread a capped selection over kinds instead of taking the manifest's first rows
    items = sorted(items, key=lambda it: stable_hash("eval-order", it.id))
    if max_items is not None:
        items = items[:max_items]
    clips = []
    for it in items:
        n = int(round(min(max_s, it.duration_s) * it.sample_rate_hz))
        audio = corpus.load_audio(it, 0, n).mean(axis=0)  # [C, N] → [N]
        if it.sample_rate_hz != sample_rate_hz:
            audio = resample(audio, it.sample_rate_hz, sample_rate_hz)
        clips.append(RealClip(it.id, it.description, tuple(it.groups), audio.astype(np.float32), it.kind))
    return clips


def split_halves(clips: list[RealClip], window_frames: int, hop_frames: int) -> np.ndarray:
    """[n] int: 0 or 1 per clip, halves sharing no source group, balanced by window count."""
    parent = list(range(len(clips)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, clip in enumerate(clips):
        for g in clip.groups:
            if g in owner:
                parent[root(i)] = root(owner[g])
            else:
                owner[g] = i
    components: dict[int, list[int]] = {}
    for i in range(len(clips)):
        components.setdefault(root(i), []).append(i)
    if len(components) < 2:
        raise ValueError(f"the {len(clips)} evaluation clips come from one connected set of sources; "
                         "two disjoint real halves are impossible (use a larger split)")
    sizes = {r: sum(len(window_starts(clips[i].num_frames, window_frames, hop_frames)) for i in members)
             for r, members in components.items()}
    half = np.zeros(len(clips), dtype=np.int64)
    load = [0, 0]
    # largest components first, each to the lighter half (ties broken by a stable hash, not input order)
    for r in sorted(components, key=lambda r: (-sizes[r], stable_hash("half", clips[r].item_id))):
        side = int(load[1] < load[0])
        for i in components[r]:
            half[i] = side
        load[side] += sizes[r]
    return half


def pink_noise(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS pink (1/f power) noise: white noise shaped by 1/sqrt(f) in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(max(num_frames, 2)))
    f = np.arange(spectrum.shape[0], dtype=np.float64)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0.0
    x = np.fft.irfft(spectrum, n=max(num_frames, 2))[:num_frames]
    return (x / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)).astype(np.float32)


def noise_like(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ceiling reference for one clip: pink noise of the same length and RMS (matched loudness)."""
    rms = float(np.sqrt(np.mean(np.asarray(clip, dtype=np.float64) ** 2)))
    return pink_noise(clip.shape[0], rng) * rms


NOISE_REFERENCE = "pink noise (1/f power), RMS-matched to each real clip, same duration and windows"
