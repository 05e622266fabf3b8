"""Codec v2 loss terms, each defined like the evaluation metric it drives (dsp/metrics.py), in torch.

- `head_lsd_db` / `head_log_l1`: the decoder's own magnitudes (before the inverse STFT) against the true
  STFT: the log-spectral distance in dB (the magnitude-only LSD target) and an L1 on log-magnitudes;
- `mrstft`: spectral convergence + log-magnitude L1 of the *waveform* at FFT 512/1024/2048 (hop n/4);
- `mel_l1`: L1 of natural-log mel energies (80 bands, FFT 2048 / hop 512) of the waveform;
- `waveform_l1`: optional sample-domain L1 (phase-sensitive; off by default);
- `lsd_db`: the waveform LSD (FFT 2048 / hop 512), for validation.
Magnitudes are complex `abs()`, whose gradient torch defines as 0 at 0, so silent bins stay finite.
Adversarial terms live in training/codec2_disc.py.
"""

from __future__ import annotations

import math

import torch

from lmd_studio.dsp.mel import mel_filterbank_torch
from lmd_studio.dsp.stft import StftConfig, stft_torch

RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # as dsp/metrics.py
_POWER_FLOOR = 1e-8  # LSD's floor on power, as dsp/metrics.lsd_db
_DB = 10.0 / math.log(10.0)


def magnitude(x: torch.Tensor, n_fft: int, hop: int, sample_rate_hz: int) -> torch.Tensor:
    """[B, N] waveform → magnitudes [B, T, K] (dsp/stft.py framing, periodic Hann)."""
    return stft_torch(x, StftConfig(n_fft, hop, sample_rate_hz)).abs()


def _lsd_from_log_power(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Natural-log powers [..., T, K] → mean over frames of the RMS dB difference over bins."""
    return ((_DB * (log_p - log_q)).pow(2).mean(-1) + 1e-6).sqrt().mean()


def head_lsd_db(log_mag: torch.Tensor, true_spec: torch.Tensor) -> torch.Tensor:
    """Decoder log-magnitudes [..., T, K] (natural log) vs the true complex STFT [..., T, K]: LSD in dB."""
    floor = math.log(_POWER_FLOOR)
    log_p = torch.logaddexp(2 * log_mag, torch.full_like(log_mag, floor))
    log_q = torch.log(torch.view_as_real(true_spec).pow(2).sum(-1) + _POWER_FLOOR)
    return _lsd_from_log_power(log_p, log_q)


def head_log_l1(log_mag: torch.Tensor, true_spec: torch.Tensor) -> torch.Tensor:
    """Mean |log-magnitude difference| (natural log, LSD's floor), the gentle early-training term."""
    floor = math.log(_POWER_FLOOR)
    log_p = torch.logaddexp(2 * log_mag, torch.full_like(log_mag, floor))
    log_q = torch.log(torch.view_as_real(true_spec).pow(2).sum(-1) + _POWER_FLOOR)
    return 0.5 * (log_p - log_q).abs().mean()


class WaveformLosses:
    """Spectral distances between decoded and target waveforms [B, N]; buffers follow `device`."""

    def __init__(self, sample_rate_hz: int, n_mels: int = 80, device: torch.device | str = "cpu") -> None:
        self.sr = sample_rate_hz
        self.mel_fb = mel_filterbank_torch(sample_rate_hz, 2048, n_mels).to(device)  # [M, K]

    def spectra(self, pred: torch.Tensor, target: torch.Tensor) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Magnitudes (target, pred) [B, T, K] per FFT size, computed once for every term below."""
        with torch.no_grad():
            targets = {n: magnitude(target, n, hop, self.sr) for n, hop in RESOLUTIONS}
        return {n: (targets[n], magnitude(pred, n, hop, self.sr)) for n, hop in RESOLUTIONS}

    @staticmethod
    def mrstft(spectra: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(spectral convergence, log-magnitude L1), each the mean over the three resolutions."""
        sc = log_l1 = None
        for a, b in spectra.values():
            num = (a - b).pow(2).sum((-1, -2)).add(1e-12).sqrt()
            den = a.pow(2).sum((-1, -2)).sqrt().clamp_min(1e-9)
            s, ll = (num / den).mean(), (torch.log(a + 1e-7) - torch.log(b + 1e-7)).abs().mean()
            sc, log_l1 = (s, ll) if sc is None else (sc + s, log_l1 + ll)
        return sc / len(spectra), log_l1 / len(spectra)

    def mel_l1(self, spectra: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        a, b = spectra[2048]
        ma, mb = a.pow(2) @ self.mel_fb.T, b.pow(2) @ self.mel_fb.T  # [B, T, M]
        return (torch.log(ma + 1e-5) - torch.log(mb + 1e-5)).abs().mean()

    @staticmethod
    def lsd_db(spectra: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        a, b = spectra[2048]
        return _lsd_from_log_power(torch.log(a.pow(2) + _POWER_FLOOR), torch.log(b.pow(2) + _POWER_FLOOR))


def waveform_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).abs().mean()
