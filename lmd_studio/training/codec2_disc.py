"""Small multi-resolution spectrogram discriminators for codec v2's adversarial phase, and their losses.

Each discriminator looks at the log-magnitude STFT of a waveform at one resolution (FFT 512/1024/2048,
hop n/4) as a one-channel image [B, 1, T, K] and applies a few 2-D convolutions that stride along
frequency (and once along time), ending in a score map. Sized for a CPU: the first layer already
downsamples frequency by 4, the second time by 2 and frequency by 4 (~40 M multiply-adds per second of
audio and resolution at 16 channels; the recipe shows the discriminators only the end of each crop).
Losses: hinge for the discriminator and the generator, plus feature matching (L1 between the
discriminator's intermediate maps for real and decoded audio, each normalised by the real map's mean
magnitude so every layer and resolution counts alike).
"""

from __future__ import annotations

import torch
from torch import nn

from lmd_studio.training.codec2_losses import RESOLUTIONS, magnitude


class SpectrogramDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, sample_rate_hz: int, channels: int = 16, layers: int = 3) -> None:
        super().__init__()
        if channels < 1 or layers < 1:
            raise ValueError("channels and layers must be >= 1")
        self.n_fft, self.hop, self.sr = n_fft, hop, sample_rate_hz
        convs = [nn.Conv2d(1, channels, (3, 9), stride=(1, 4), padding=(1, 4))]
        convs += [nn.Conv2d(channels, channels, (3, 9), stride=(2, 4) if i == 0 else (1, 2), padding=(1, 4))
                  for i in range(layers - 1)]
        convs.append(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))
        self.convs = nn.ModuleList(convs)
        self.out = nn.Conv2d(channels, 1, (3, 3), padding=(1, 1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """[B, N] → (score map [B, 1, T, K'], intermediate feature maps)."""
        x = torch.log(magnitude(wave, self.n_fft, self.hop, self.sr) + 1e-5).unsqueeze(1)  # [B, 1, T, K]
        feats = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), 0.1)
            feats.append(x)
        return self.out(x), feats


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, sample_rate_hz: int, channels: int = 16, layers: int = 3) -> None:
        super().__init__()
        self.discs = nn.ModuleList([SpectrogramDiscriminator(n, h, sample_rate_hz, channels, layers)
                                    for n, h in RESOLUTIONS])

    def forward(self, wave: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(wave) for d in self.discs]


def hinge_d_loss(real: list, fake: list) -> torch.Tensor:
    """Discriminator: mean over resolutions of relu(1 - D(real)) + relu(1 + D(fake))."""
    terms = [torch.relu(1 - r).mean() + torch.relu(1 + f).mean() for (r, _), (f, _) in zip(real, fake)]
    return sum(terms) / len(terms)


def hinge_g_loss(fake: list) -> torch.Tensor:
    """Generator: mean over resolutions of relu(1 - D(fake))."""
    terms = [torch.relu(1 - f).mean() for f, _ in fake]
    return sum(terms) / len(terms)


def feature_matching(real: list, fake: list) -> torch.Tensor:
    """Mean relative L1 between intermediate maps of real (treated as constants) and decoded audio."""
    terms = []
    for (_, fr), (_, ff) in zip(real, fake):
        for a, b in zip(fr, ff):
            a = a.detach()
            terms.append((a - b).abs().mean() / a.abs().mean().clamp_min(1e-5))
    return sum(terms) / len(terms)
