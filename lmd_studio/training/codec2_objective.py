"""What one codec v2 training or validation pass computes: crop → latents (+ noise) → spectra → waveform,
and every loss term against the true STFT and the target waveform.

The target waveform is the analysis-synthesis round trip of the crop (dsp/istft_stream.py): what a perfect
decoder would output, identical to the crop except for the stream-start fade-in.

With a teacher codec (config `teacher_codec`) the decoder decodes the *teacher's* latents of the crop and the
encoder is pulled onto them by an MSE (`distill`): the new codec keeps the teacher's latent space, so a DiT
trained on the teacher's latents needs no retraining. The decoder never sees the student encoder's output
then, so an imperfect distillation cannot teach it a space the DiT does not write.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lmd_studio.dsp.istft_stream import StreamingIstft
from lmd_studio.model.codec2_net import Codec2Net, analyse, to_complex
from lmd_studio.model.codec_api import LatentCodec
from lmd_studio.training.codec2_config import Codec2TrainConfig
from lmd_studio.training.codec2_losses import WaveformLosses, head_log_l1, head_lsd_db, waveform_l1


@dataclass(frozen=True, slots=True)
class Reconstruction:
    true_spec: torch.Tensor  # [B, C, T*F, K] complex
    log_mag: torch.Tensor  # [B, C, T*F, K] decoder log-magnitudes (float32)
    pred: torch.Tensor  # [B*C, N] decoded waveform
    target: torch.Tensor  # [B*C, N] round-trip of the input
    latents: torch.Tensor  # [B, T, L] raw latents of this codec's encoder (float32)
    teacher_latents: torch.Tensor | None = None  # [B, T, L] the teacher's (standardised) latents, decoded instead


class Codec2Objective:
    def __init__(self, cfg: Codec2TrainConfig, device: torch.device, bf16: bool,
                 teacher: LatentCodec | None = None) -> None:
        self.cfg = cfg
        self.device = device
        self.bf16 = bf16
        self.teacher = teacher
        self.istft = StreamingIstft(cfg.codec.stft)
        self.wave = WaveformLosses(cfg.codec.sample_rate_hz, device=device)

    def reconstruct(self, net: Codec2Net, audio: torch.Tensor, noise: torch.Tensor | None) -> Reconstruction:
        """audio [B, C, N] on the device; `noise` [B, T, L] added to the raw latents (None: none)."""
        c = self.cfg.codec
        b, ch, n = audio.shape
        spec, frames = analyse(audio, c)
        z_teacher = self.teacher_latents(audio)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            z = net.encode_frames(frames)
            decoded = z if z_teacher is None else z_teacher
            z_in = decoded if noise is None else decoded + noise.to(decoded.dtype)
            log_mag, phase, _ = net.decode_spectra(z_in)
        log_mag, phase, z = log_mag.float(), phase.float(), z.float()
        rows, tf = b * ch, log_mag.shape[2]
        s = to_complex(log_mag, phase).reshape(rows, tf, c.n_bins)  # [B*C, T*F, K]
        pred, _ = self.istft.frames_to_audio(s, self.istft.init_tail(rows, pred_dtype(s), s.device), at_start=True)
        target = self.istft.roundtrip(audio.reshape(rows, n), c.hop_frames)  # [B*C, N']
        return Reconstruction(spec, log_mag, pred, target, z, z_teacher)

    def teacher_latents(self, audio: torch.Tensor) -> torch.Tensor | None:
        """The teacher's latents of `audio` [B, C, N] → [B, T, L] float32 (None without a teacher)."""
        if self.teacher is None:
            return None
        z = self.teacher.encode(audio).float().clone()  # a normal tensor: encode() runs in inference mode
        expected = (audio.shape[0], audio.shape[2] // self.cfg.codec.hop_frames, self.cfg.codec.latent_channels)
        if tuple(z.shape) != expected:
            raise ValueError(f"the teacher codec's latents have shape {list(z.shape)}, this codec's {list(expected)}")
        return z

    def terms(self, r: Reconstruction) -> dict[str, torch.Tensor]:
        """Every unweighted generator term (no adversarial ones)."""
        cfg = self.cfg
        spectra = self.wave.spectra(r.pred, r.target)
        sc, log_l1 = self.wave.mrstft(spectra)
        out = {"head_l1": head_log_l1(r.log_mag, r.true_spec), "head_lsd_db": head_lsd_db(r.log_mag, r.true_spec),
               "sc": sc, "stft_log_l1": log_l1, "mel_l1": self.wave.mel_l1(spectra),
               "latent_rms": r.latents.pow(2).mean().sqrt()}
        if cfg.wave_l1_weight > 0:
            out["wave_l1"] = waveform_l1(r.pred, r.target)
        if r.teacher_latents is not None:
            out["distill"] = (r.latents - r.teacher_latents).pow(2).mean()
        return out

    def weighted(self, t: dict[str, torch.Tensor]) -> torch.Tensor:
        cfg = self.cfg
        loss = (cfg.head_l1_weight * t["head_l1"] + cfg.head_lsd_weight * t["head_lsd_db"]
                + cfg.mrstft_weight * (t["sc"] + t["stft_log_l1"]) + cfg.mel_weight * t["mel_l1"]
                + cfg.latent_l2 * t["latent_rms"].pow(2))
        if "wave_l1" in t:
            loss = loss + cfg.wave_l1_weight * t["wave_l1"]
        if "distill" in t:
            loss = loss + cfg.distill_weight * t["distill"]
        return loss

    @torch.no_grad()
    def validate(self, net: nn.Module, crops: torch.Tensor, chunk: int = 8) -> dict[str, float]:
        """Metrics on fixed validation crops [B, C, N] (no latent noise), averaged over chunks; `val_score` is
        the mean ratio to the issue's targets (LSD 5.5, magnitude LSD 5.0, mel L1 0.30, MR-STFT 0.9):
        1.0 means on target on average, lower is better. With a teacher these are of the teacher's latents
        decoded (what a DiT trained on them gets), and `val_distill_rms` says how far the encoder is from them
        (per standardised channel; the training noise on the latents is `latent_noise`)."""
        sums: dict[str, float] = {}
        for lo in range(0, crops.shape[0], chunk):
            part = crops[lo:lo + chunk].to(self.device)
            r = self.reconstruct(net, part, None)
            spectra = self.wave.spectra(r.pred, r.target)
            sc, log_l1 = self.wave.mrstft(spectra)
            vals = {"val_lsd_db": self.wave.lsd_db(spectra), "val_mag_lsd_db": head_lsd_db(r.log_mag, r.true_spec),
                    "val_mel_l1": self.wave.mel_l1(spectra), "val_mrstft": sc + log_l1}
            if r.teacher_latents is not None:
                vals["val_distill_rms"] = (r.latents - r.teacher_latents).pow(2).mean().sqrt()
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + float(v) * part.shape[0]
        out = {k: v / crops.shape[0] for k, v in sums.items()}
        out["val_score"] = (out["val_lsd_db"] / 5.5 + out["val_mag_lsd_db"] / 5.0 + out["val_mel_l1"] / 0.30
                            + out["val_mrstft"] / 0.9) / 4
        return out


def pred_dtype(spec: torch.Tensor) -> torch.dtype:
    return torch.float64 if spec.dtype == torch.complex128 else torch.float32
