"""`lmd train codec2` through the real entry point on the tiny corpus: one step (with the adversarial phase),
export and load, resume == uninterrupted, config validation, clear errors."""

import json
from dataclasses import replace

import pytest
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.model.codec import load_codec
from lmd_studio.model.codec2 import Codec2
from lmd_studio.model.codec2_net import Codec2Config, Codec2Net, analyse
from lmd_studio.training.codec2_config import DEFAULT_CONFIG, Codec2TrainConfig, load_config
from lmd_studio.training.logging import MetricsLogger
from lmd_studio.training.recipe_codec2 import train_codec2
from lmd_studio.training.runner import StageRun
from tests.training.resume_support import assert_same_training_state

SMALL = {"steps": 1, "batch_size": 2, "crop_latent_frames": 6, "eval_every": 1, "eval_crops": 2,
         "checkpoint_every": 1, "log_every": 1, "stats_crops": 4, "threads": 1, "warmup_steps": 1,
         "adv_start_step": 0, "disc_channels": 4, "disc_layers": 2, "disc_crop_latent_frames": 4,
         "codec": {"encoder_width": 32, "encoder_blocks": 1, "decoder_width": 32, "decoder_blocks": 2, "frame_width": 16}}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_shipped_config_is_valid_and_keeps_the_latent_shape():
    cfg = load_config(DEFAULT_CONFIG)
    c = cfg.codec
    assert (c.sample_rate_hz, c.hop_frames, c.latent_channels, c.audio_channels) == (44100, 2048, 32, 1)
    assert cfg.adversarial and cfg.adv_start_step < cfg.steps
    assert json.loads(json.dumps(cfg.to_dict())) == cfg.to_dict()
    assert Codec2TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert load_config(DEFAULT_CONFIG, steps=7, threads=None).steps == 7


def test_bad_configs_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    for content, message in (({"stepz": 1}, "unknown codec2 training keys"), ({"lr": 1e-5, "min_lr": 1e-3}, "min_lr"),
                             ({"adv_start_step": -1}, "adv_start_step"), ({"mel_weight": -1}, "mel_weight"),
                             ({"codec": {"decoder_blocks": 0}}, "decoder_blocks"),
                             ({"codec": {"hop_frames": 1000}}, "hop_frames")):
        bad.write_text(json.dumps(content))
        with pytest.raises(ValueError, match=rf"bad\.json.*{message}"):
            load_config(bad)
    with pytest.raises(ValueError, match="encoder_kernel"):
        Codec2Config(encoder_kernel=4)


def test_one_step_through_the_cli_exports_a_loadable_codec(diffusion_tiny, tmp_path):
    cfg_path = tmp_path / "small.json"
    cfg_path.write_text(json.dumps(SMALL))
    out, export = tmp_path / "run", tmp_path / "models" / "codec.safetensors"
    rc = lmd_main(["train", "codec2", "--corpus", str(diffusion_tiny.corpus), "--out", str(out), "--config",
                   str(cfg_path), "--export", str(export)])
    assert rc == 0
    rows = MetricsLogger.read(out / "metrics.csv")
    first = next(r for r in rows if "loss" in r)
    assert first["step"] == 1 and first["loss"] > 0 and "d_loss" in first and "fm" in first
    assert {"val_score", "val_lsd_db", "val_mag_lsd_db", "val_mel_l1", "val_mrstft"} <= set(rows[-1])
    assert (out / "loss.png").stat().st_size > 1000 and (out / "last.pt").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stage"] == "codec2" and summary["steps"] == 1 and summary["val_at_export"]["val_score"] > 0
    codec = load_codec(export)
    assert isinstance(codec, Codec2)
    z = codec.encode(torch.zeros(1, 1, 8 * 2048))
    assert z.shape == (1, 8, 32) and torch.isfinite(z).all()


def test_resume_gives_the_same_losses(diffusion_tiny, tmp_path):
    cfg = replace(Codec2TrainConfig.from_dict(SMALL), steps=4, eval_every=100, checkpoint_every=2, bf16=False,
                  adv_start_step=1)
    quiet = lambda *_: None  # noqa: E731

    def train(folder, steps):
        c = replace(cfg, steps=steps)
        train_codec2(StageRun.start("codec2", c, folder, log=quiet, device="cpu"), diffusion_tiny.corpus)

    train(tmp_path / "a", 4)
    train(tmp_path / "b", 2)  # "interrupted" after 2 steps (the adversarial phase has begun)
    train(tmp_path / "b", 4)  # resumed to 4
    keys = ("loss", "d_loss", "mel_l1")
    a = [[r[k] for k in keys] for r in MetricsLogger.read(tmp_path / "a" / "metrics.csv") if "d_loss" in r]
    b = [[r[k] for k in keys] for r in MetricsLogger.read(tmp_path / "b" / "metrics.csv") if "d_loss" in r]
    assert len(a) == 3 and a == [pytest.approx(row, rel=1e-5) for row in b]
    assert_same_training_state(tmp_path / "a", tmp_path / "b", steps=4, same_evals=False)


def test_bad_corpus_is_a_clear_error(tmp_path, capsys):
    rc = lmd_main(["train", "codec2", "--corpus", str(tmp_path), "--out", str(tmp_path / "r"), "--steps", "1"])
    assert rc == 2 and "not a corpus folder" in capsys.readouterr().err


def test_a_teacher_codec_keeps_its_latent_space(diffusion_tiny, tmp_path):
    """With `teacher_codec` the decoder decodes the teacher's latents (never its own encoder's), the encoder is
    pulled onto them, and the export declares the teacher's latent space with identity statistics."""
    from lmd_studio.model.checkpoint import read_metadata
    from lmd_studio.training.codec2_objective import Codec2Objective
    from lmd_studio.training.latents import codec_fingerprint, latent_space_fingerprint
    from lmd_studio.training.recipe_codec2 import load_teacher

    cfg = replace(Codec2TrainConfig.from_dict(SMALL), steps=2, bf16=False, adv_start_step=None,
                  teacher_codec=str(diffusion_tiny.codec))
    teacher = load_teacher(diffusion_tiny.codec, cfg.codec, torch.device("cpu"))
    torch.manual_seed(1)
    net, audio = Codec2Net(cfg.codec), 0.1 * torch.randn(2, 1, 6 * 2048)
    objective = Codec2Objective(cfg, torch.device("cpu"), bf16=False, teacher=teacher)
    r = objective.reconstruct(net, audio, None)
    z_teacher = teacher.encode(audio)
    assert torch.equal(r.teacher_latents, z_teacher)
    log_mag, _, _ = net.decode_spectra(z_teacher.clone())
    assert torch.allclose(r.log_mag, log_mag, atol=1e-6)  # the teacher's latents were decoded
    own, _, _ = net.decode_spectra(net.encode_frames(analyse(audio, cfg.codec)[1]))
    assert not torch.allclose(r.log_mag, own, atol=1e-3)  # ... not the student encoder's
    terms = objective.terms(r)
    assert terms["distill"].item() == pytest.approx((r.latents - z_teacher).pow(2).mean().item(), rel=1e-6)
    assert objective.weighted(terms) > objective.weighted({k: v for k, v in terms.items() if k != "distill"})
    terms["distill"].backward()  # the distillation reaches the encoder, and only it
    assert net.enc_out.weight.grad is not None and net.dec_in.weight.grad is None

    out = tmp_path / "run"
    summary = train_codec2(StageRun.start("codec2", cfg, out, log=lambda *_: None, device="cpu"),
                           diffusion_tiny.corpus)
    rows = MetricsLogger.read(out / "metrics.csv")
    assert any("distill" in row for row in rows) and "val_distill_rms" in rows[-1]
    export = out / "codec.safetensors"
    assert read_metadata(export)["teacher_codec"] == str(diffusion_tiny.codec)
    assert latent_space_fingerprint(export) == codec_fingerprint(diffusion_tiny.codec) != codec_fingerprint(export)
    assert latent_space_fingerprint(diffusion_tiny.codec) == codec_fingerprint(diffusion_tiny.codec)
    codec = load_codec(export)
    assert torch.equal(codec.net.latent_mean, torch.zeros(32)) and torch.equal(codec.net.latent_std, torch.ones(32))
    assert summary["val_at_export"]["val_distill_rms"] > 0


def test_a_teacher_that_cannot_be_one_is_named(diffusion_tiny, tmp_path):
    from lmd_studio.training.recipe_codec2 import load_teacher

    cpu = torch.device("cpu")
    with pytest.raises(ValueError, match=r"teacher_codec .*missing\.safetensors: no such file"):
        load_teacher(tmp_path / "missing.safetensors", Codec2Config(), cpu)
    with pytest.raises(ValueError, match=r"latent_channels 32 vs 16"):
        load_teacher(diffusion_tiny.codec, Codec2Config(latent_channels=16), cpu)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a codec")
    with pytest.raises(ValueError, match=r"teacher_codec .*junk\.safetensors"):
        load_teacher(junk, Codec2Config(), cpu)


def test_the_v1_space_config_keeps_the_shipped_codecs_latents():
    """configs/codec2_v1space.json: codec v2 on the shipped codec's latent space, so Model v2 (trained on those
    latents) needs no retraining; its teacher is the shipped codec, whose latents fit this codec's shape."""
    from pathlib import Path

    from lmd_studio.training.recipe_codec2 import load_teacher

    cfg = load_config(DEFAULT_CONFIG.with_name("codec2_v1space.json"))
    assert cfg.teacher_codec == "models/default/codec.safetensors" and cfg.distill_weight > 0
    assert cfg.codec == load_config(DEFAULT_CONFIG).codec
    repo = Path(__file__).resolve().parents[2]
    teacher = load_teacher(repo / cfg.teacher_codec, cfg.codec, torch.device("cpu"))
    assert teacher.latent_channels == cfg.codec.latent_channels
