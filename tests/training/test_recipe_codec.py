"""`lmd train codec` and `lmd codec eval` through the real entry point, on a tiny corpus built here."""

import json
from dataclasses import replace

import pytest
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.data.builder import BuildConfig, build_corpus
from lmd_studio.model.codec import load_codec
from lmd_studio.model.codec_net import CodecConfig
from lmd_studio.training.logging import MetricsLogger
from lmd_studio.training.recipe_codec import DEFAULT_CONFIG, CodecTrainConfig, load_config, train_codec
from tests.training.resume_support import assert_same_training_state

SMALL = {"steps": 1, "batch_size": 2, "crop_latent_frames": 8, "eval_every": 1, "eval_crops": 2,
         "checkpoint_every": 1, "log_every": 1, "stats_crops": 4, "threads": 1, "patience_evals": None,
         "codec": {"width": 32, "encoder_blocks": 1, "decoder_dilations": [1, 2], "gl_iters": 2}}


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("codec") / "tiny"
    build_corpus(BuildConfig(out_dir=out, size="tiny", workers=2, progress=False), log=lambda *_: None)
    return out


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_shipped_training_config_is_valid():
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.codec.sample_rate_hz == 44100 and cfg.codec.hop_frames == 2048 and cfg.codec.latent_channels == 32
    assert cfg.max_minutes is not None and cfg.max_minutes <= 30
    with pytest.raises(ValueError, match="unknown codec training keys"):
        CodecTrainConfig.from_dict({"stepz": 3})
    with pytest.raises(ValueError, match="sample_rate_hz"):
        CodecConfig(sample_rate_hz=22050)


def test_one_step_smoke_run_through_the_cli(tiny_corpus, tmp_path):
    cfg_path = tmp_path / "small.json"
    cfg_path.write_text(json.dumps(SMALL))
    out = tmp_path / "run"
    export = tmp_path / "models" / "codec.safetensors"
    rc = lmd_main(["train", "codec", "--corpus", str(tiny_corpus), "--out", str(out), "--config", str(cfg_path),
                   "--export", str(export)])
    assert rc == 0
    rows = MetricsLogger.read(out / "metrics.csv")
    assert rows[0]["step"] == 1 and rows[0]["loss"] > 0 and "val_lsd_db" in rows[-1]
    assert (out / "loss.png").stat().st_size > 1000 and (out / "last.pt").exists()
    codec = load_codec(export)
    z = codec.encode(torch.zeros(1, 1, 8 * 2048))
    assert z.shape == (1, 8, 32) and torch.isfinite(z).all()
    # evaluation through its entry point, JSON on stdout
    png = tmp_path / "png"
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = lmd_main(["codec", "eval", "--codec", str(export), "--corpus", str(tiny_corpus), "--split", "test",
                       "--items", "3", "--seconds", "4", "--json", "--png-dir", str(png), "--threads", "1",
                       "--block", "8"])
    assert rc == 0
    res = json.loads(buf.getvalue())
    for key in ("lsd_db", "mrstft", "mel_l1", "seam", "encode_rtf", "decode_rtf", "oracle_lsd_db", "oracle_seam",
                "magnitude_lsd_db"):
        assert res[key] is not None and res[key] == res[key], key
    assert res["oracle_lsd_db"] < res["lsd_db"]  # an untrained codec is worse than the oracle phase path
    assert res["stream_offline_max_abs"] <= 1e-5
    assert len(list(png.glob("*.png"))) >= 2
    # release export keeps the training metadata and can change the decode-time Griffin-Lim iterations
    release = tmp_path / "release" / "codec.safetensors"
    assert lmd_main(["codec", "export", "--codec", str(export), "--out", str(release), "--gl-iters", "3"]) == 0
    from lmd_studio.model.checkpoint import read_metadata
    assert load_codec(release).cfg.gl_iters == 3 and read_metadata(release)["trained_steps"] == "1"


def test_resume_gives_the_same_losses(tiny_corpus, tmp_path):
    cfg = replace(CodecTrainConfig.from_dict(SMALL), steps=4, eval_every=100, checkpoint_every=2,
                  bf16=False, warmup_steps=2)
    quiet = lambda *_: None  # noqa: E731
    train_codec(tiny_corpus, tmp_path / "a", cfg, log=quiet)
    train_codec(tiny_corpus, tmp_path / "b", replace(cfg, steps=2), log=quiet)  # "interrupted" after 2 steps
    train_codec(tiny_corpus, tmp_path / "b", cfg, log=quiet)  # resumed to 4
    a = [r["loss"] for r in MetricsLogger.read(tmp_path / "a" / "metrics.csv") if "loss" in r]
    b = [r["loss"] for r in MetricsLogger.read(tmp_path / "b" / "metrics.csv") if "loss" in r]
    assert len(a) == 4 and a == pytest.approx(b, rel=1e-5)
    assert_same_training_state(tmp_path / "a", tmp_path / "b", steps=4, same_evals=False)


def test_bad_corpus_is_a_clear_error(tmp_path, capsys):
    rc = lmd_main(["train", "codec", "--corpus", str(tmp_path), "--out", str(tmp_path / "r"), "--steps", "1"])
    assert rc == 2 and "not a corpus folder" in capsys.readouterr().err
