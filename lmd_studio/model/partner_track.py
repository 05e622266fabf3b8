"""Jam mode at inference: a partner's audio, heard late, through the accompaniment channels.

Training (training/partner.py) shows the network a partner stem on the context frames before a cut-off
0–3 s ahead of the target block, and never on the target. Live, the partner's audio arrives while the
stream plays: when block n is generated, the partner has been heard up to some frame `heard_end`, so

    cut-off(n) = min(heard_end, first frame of block n)

and the same function that made the training features (model/conditioning.accompaniment_features) makes
the context's features here: frames before the cut-off carry the partner's latents and a visibility bit,
later ones (and the target) zeros.

Generative delay is the same track read another way: the partner is the player's input delayed by d
(`shift_frames`), so it lines up with the block being generated, and the model (trained on re-voiced pairs,
training/partner.py) plays it back re-imagined. There the partner may be visible into the target block
(`reach_frames` = the block's length): cut-off(n) = min(heard_end, first frame of block n + reach).

Block-causal streaming caches a chunk's keys and values once, when it is encoded; partner audio for that
chunk that arrives later would never be seen, and the cache would no longer be what an uncached window
with today's cut-off computes. `stale_chunks` counts the newest cached chunks whose visible partner frames
changed since they were cached; the generator re-encodes them with the next block's first step
(model/streaming.BlockCausalBlock), so streaming keeps equal to the full-window computation the model was
trained on. Cost: `o` extra context frames per re-encoded chunk.

`PartnerEncoder` turns incoming partner audio into latent frames as it arrives. The codec's encoder looks
at neighbouring audio, so a frame is emitted only once `margin_frames` of audio after it are in; each push
re-encodes a short window ending at the newest audio and keeps the frames that have become final.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.model.conditioning import accompaniment_features


@dataclass(frozen=True, slots=True)
class PartnerTrack:
    """The partner's latents heard so far: frames [start_frame, end_frame) of the stream (latent frames,
    counted from the stream's first block). Immutable: `heard` returns a new track."""

    latents: torch.Tensor  # [n, latent_channels]
    start_frame: int = 0
    reach_frames: int = 0  # how far into the block being generated the partner may be visible (delay mode)
    shift_frames: int = 0  # the partner is its source delayed by this many frames (generative delay; else 0)

    @property
    def end_frame(self) -> int:
        return self.start_frame + int(self.latents.shape[0])

    @classmethod
    def empty(cls, latent_channels: int, start_frame: int = 0, reach_frames: int = 0, shift_frames: int = 0
              ) -> PartnerTrack:
        return cls(torch.zeros(0, latent_channels), start_frame, reach_frames, shift_frames)

    def heard(self, latents: torch.Tensor, keep_frames: int) -> PartnerTrack:
        """The track with `latents` [m, C] appended; only the newest `keep_frames` are kept (the context)."""
        if latents.dim() != 2 or latents.shape[1] != self.latents.shape[1]:
            raise ValueError(f"partner latents must be [m, {self.latents.shape[1]}], got {tuple(latents.shape)}")
        joined = torch.cat([self.latents, latents.to(self.latents.dtype)], dim=0)
        drop = max(0, joined.shape[0] - keep_frames)
        return PartnerTrack(joined[drop:], self.start_frame + drop, self.reach_frames, self.shift_frames)

    def cut_off(self, block_start_frame: int) -> int:
        """The first hidden frame when the block starting at `block_start_frame` is generated."""
        return min(self.end_frame, block_start_frame + self.reach_frames)

    def features(self, window_start_frame: int, n_frames: int, cut_off_frame: int) -> torch.Tensor:
        """[n_frames, C + 1] accompaniment features of the window starting at `window_start_frame`."""
        channels = int(self.latents.shape[1])
        window = torch.zeros(n_frames, channels)
        lo = max(window_start_frame, self.start_frame)
        hi = min(window_start_frame + n_frames, self.end_frame)
        if hi > lo:
            window[lo - window_start_frame:hi - window_start_frame] = \
                self.latents[lo - self.start_frame:hi - self.start_frame].float()
        out = accompaniment_features(window, n_frames, channels, cut_off_frame - window_start_frame)
        unheard = max(0, min(n_frames, self.start_frame - window_start_frame))
        out[:unheard] = 0.0  # before the partner started (or before the kept span): nothing was heard
        return out

    def visible_in(self, chunk_start_frame: int, chunk_frames: int, cut_off_frame: int | None) -> int:
        """How many frames of the chunk were visible under `cut_off_frame` (None: no partner then)."""
        if cut_off_frame is None:
            return 0
        lo = max(chunk_start_frame, self.start_frame)
        return max(0, min(chunk_start_frame + chunk_frames, cut_off_frame) - lo)


def stale_chunks(track: PartnerTrack | None, chunk_cut_offs: tuple[int | None, ...], first_chunk_frame: int,
                 chunk_frames: int, cut_off_frame: int) -> int:
    """How many of the newest cached chunks must be re-encoded: the cache holds `len(chunk_cut_offs)` chunks
    starting at `first_chunk_frame`, each cached under its cut-off; a chunk is stale when the frames of it
    visible now differ from those visible then. Everything after the oldest stale chunk is re-encoded too
    (later chunks attended to it)."""
    if track is None:
        return 0
    n = len(chunk_cut_offs)
    for i, then in enumerate(chunk_cut_offs):
        start = first_chunk_frame + i * chunk_frames
        if track.visible_in(start, chunk_frames, then) != track.visible_in(start, chunk_frames, cut_off_frame):
            return n - i
    return 0


class PartnerEncoder:
    """Partner audio (the codec's rate and channels) in, final latent frames out, as the audio arrives."""

    def __init__(self, codec: LatentCodec, margin_frames: int = 4, window_frames: int = 32) -> None:
        if margin_frames < 0 or window_frames <= 2 * margin_frames:
            raise ValueError(f"need window_frames > 2 * margin_frames, got {window_frames}, {margin_frames}")
        self.codec = codec
        self.hop = int(codec.hop_frames)
        self.margin_frames = margin_frames
        self.window_frames = window_frames
        self._audio = np.zeros((0, codec.audio_channels), np.float32)  # the newest samples, hop-aligned start
        self._audio_start = 0  # absolute sample index of self._audio[0] (a multiple of hop)
        self.emitted_frames = 0  # latent frames handed out so far

    @property
    def delay_frames(self) -> int:
        """Latent frames of audio that must follow a frame before it is final (beyond its own hop)."""
        return self.margin_frames

    def push(self, audio: np.ndarray) -> torch.Tensor:
        """Append audio [samples, channels]; return the latent frames [m, C] that became final."""
        if audio.ndim != 2 or audio.shape[1] != self.codec.audio_channels:
            raise ValueError(f"partner audio must be [samples, {self.codec.audio_channels}], got {audio.shape}")
        self._audio = np.concatenate([self._audio, audio.astype(np.float32, copy=False)])
        total_frames = (self._audio_start + len(self._audio)) // self.hop
        final = max(self.emitted_frames, total_frames - self.margin_frames)
        if final == self.emitted_frames:
            return torch.zeros(0, self.codec.latent_channels)
        first = max(0, self.emitted_frames - self.margin_frames)  # left context for the first new frame
        first = max(first, self._audio_start // self.hop)
        a0 = first * self.hop - self._audio_start
        n_frames = total_frames - first
        chunk = self._audio[a0:a0 + n_frames * self.hop]
        with torch.inference_mode():
            lat = self.codec.encode(torch.from_numpy(np.ascontiguousarray(chunk.T))[None])[0]  # [n, C]
        new = lat[self.emitted_frames - first:final - first].float().clone()
        self.emitted_frames = final
        # keep a window of audio behind the newest final frame for the next push's left context
        keep_from = max(0, (final - self.window_frames) * self.hop - self._audio_start)
        keep_from -= keep_from % self.hop
        self._audio = self._audio[keep_from:]
        self._audio_start += keep_from
        return new
