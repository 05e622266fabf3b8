"""LoRA: training parametrisation == merged weights, strength 0 restores the base bit for bit, the adapter file,
the generator's set_adapter, and `lmd train lora` on a messy folder of loops (and on one too small to hold
any file out). Adapters and exported models are ordinary files: 0666 less the umask, like anything else."""

import json
import os
import shutil
import stat

import numpy as np
import pytest
import soundfile as sf
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.checkpoint import CheckpointError, read_metadata
from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.lora import (
    AdapterMixer,
    LoraSpec,
    attach_lora,
    detach_lora,
    load_adapter,
    save_adapter,
)
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.lora_data import describe
from tests.model.lmdm_support import text_for, tiny_dit


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _trained_deltas(dit: DiT, seed: int = 1):
    deltas = attach_lora(dit, LoraSpec(rank=2, alpha=4.0))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for d in deltas.values():
            d.B.normal_(0.0, 0.3, generator=gen)  # as if trained: a visible change
    return deltas


def _velocity(dit: DiT) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, dit.cfg.window_frames, dit.cfg.latent_channels, generator=gen)
    with torch.no_grad():
        return dit(x, 0.5, text_for(dit), is_context=None)


def test_merged_adapter_equals_the_training_parametrisation(tmp_path):
    dit = tiny_dit(pattern="bidirectional", routing=False)
    v_base = _velocity(dit)
    deltas = _trained_deltas(dit)
    v_lora = _velocity(dit)
    assert (v_lora - v_base).abs().max() > 1e-3  # the adapter changes the output
    path = save_adapter(tmp_path / "a.safetensors", deltas, LoraSpec(2, 4.0), dit.cfg)
    assert read_metadata(path)["format"] == "lmd-lora" and path.stat().st_size < 200_000
    assert all(not p.requires_grad for n, p in dit.named_parameters() if "parametrizations" not in n
               or n.endswith("original"))
    detach_lora(dit)
    torch.testing.assert_close(_velocity(dit), v_base, rtol=0, atol=0)  # base weights untouched
    mixer = AdapterMixer(dit)
    mixer.apply(load_adapter(path, dit.cfg), 1.0)
    torch.testing.assert_close(_velocity(dit), v_lora, rtol=1e-5, atol=1e-5)
    mixer.apply(load_adapter(path), 0.5)
    v_half = _velocity(dit)
    assert 0 < (v_half - v_base).abs().max() < (v_lora - v_base).abs().max()
    mixer.apply(None, 1.0)
    torch.testing.assert_close(_velocity(dit), v_base, rtol=0, atol=0)
    with pytest.raises(ValueError, match="strength"):
        mixer.apply(load_adapter(path), -0.1)


def test_adapter_for_another_network_is_rejected(tmp_path):
    small = tiny_dit(pattern="bidirectional", routing=False)
    path = save_adapter(tmp_path / "a.safetensors", _trained_deltas(small), LoraSpec(2, 4.0), small.cfg)
    other = DiTConfig.tiny(d_model=48, n_heads=2)
    with pytest.raises(CheckpointError, match="trained for a network"):
        load_adapter(path, other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"nonsense")
    with pytest.raises(CheckpointError):
        load_adapter(junk)


class _SilentCodec:
    """Decodes latents with a fixed linear map: enough to see whether the DiT's output changed."""

    sample_rate, audio_channels, latent_channels, hop_frames, latent_rate_hz = 8000, 1, 8, 16, 500.0

    def init_decode_state(self, batch=1):
        return 0

    def decode_block(self, latents, state):
        return latents.mean(-1, keepdim=True).repeat_interleave(16, 1).transpose(1, 2), state


def test_generator_set_adapter_mixes_and_restores(tmp_path):
    dit = tiny_dit()
    trained = tiny_dit()
    path = save_adapter(tmp_path / "a.safetensors", _trained_deltas(trained), LoraSpec(2, 4.0), trained.cfg)
    gen = TorchBlockGenerator(dit, _SilentCodec(), FakeTextEncoder(16, 8), threads=1)
    controls = BlockControls(prompts=(PromptSlot("warm piano", 1.0),))
    base, _ = gen.generate_block(gen.init_state(3), controls)
    gen.set_adapter(path, 1.0)
    with_adapter, _ = gen.generate_block(gen.init_state(3), controls)
    assert np.abs(with_adapter - base).max() > 1e-4
    gen.set_adapter(path, 0.0)
    np.testing.assert_array_equal(gen.generate_block(gen.init_state(3), controls)[0], base)
    gen.set_adapter(path, 1.0)
    gen.set_adapter(None)
    np.testing.assert_array_equal(gen.generate_block(gen.init_state(3), controls)[0], base)


def test_names_from_files():
    from pathlib import Path

    assert describe(Path("Funky_bass-loop.120bpm.wav")) == "funky bass loop 120bpm"
    assert describe(Path("___.wav")) == "a loop"


def _loops(folder, rng):
    folder.mkdir()
    t = np.arange(int(22050 * 1.5)) / 22050
    sf.write(folder / "warm_bass-loop.wav", 0.3 * np.sin(2 * np.pi * 110 * t), 22050)
    pluck = 0.2 * np.sin(2 * np.pi * 880 * t[:, None] * [1, 1.5]) * np.exp(-3 * (t[:, None] % 0.5))
    sf.write(folder / "bright_pluck.flac", pluck, 48000)  # stereo, another rate
    sf.write(folder / "noisy_hat.ogg", (0.1 * rng.standard_normal(44100)).astype(np.float32), 44100)
    sf.write(folder / "soft_pad.mp3", 0.2 * np.sin(2 * np.pi * 220 * t), 22050)
    sf.write(folder / "silent.wav", np.zeros(22050), 22050)
    sf.write(folder / "click.wav", 0.3 * np.ones(200), 22050)
    (folder / "broken.flac").write_bytes(b"fLaC but not really")
    (folder / "notes.txt").write_text("not audio")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def exported_lmdm(diffusion_tiny, tmp_path_factory):
    """A tiny LMDM trained through `lmd train` and exported with `lmd model export` from a codec file whose
    mode is 0600 (as older versions wrote them), under umask 022."""
    tmp_path = tmp_path_factory.mktemp("lora-model")
    old = os.umask(0o022)
    try:
        chain = tmp_path / "chain"
        for stage, init in (("base", []), ("lmdm", ["--init", str(chain / "base")])):
            assert lmd_main(["train", stage, "--latents", str(diffusion_tiny.latents), "--config",
                             str(diffusion_tiny.config(stage)), "--out", str(chain / stage), "--device", "cpu",
                             *init]) == 0
        private_codec = tmp_path / "codec-0600.safetensors"
        shutil.copyfile(diffusion_tiny.codec, private_codec)
        private_codec.chmod(0o600)
        models = tmp_path / "models"
        assert lmd_main(["model", "export", "--run", str(chain / "lmdm"), "--name", "m", "--models-dir", str(models),
                         "--codec", str(private_codec)]) == 0
    finally:
        os.umask(old)
    return models / "m"


def test_exported_model_files_are_ordinary_files(exported_lmdm):
    for name in ("dit.safetensors", "codec.safetensors", "MODEL_CARD.md"):
        assert _mode(exported_lmdm / name) == 0o644, name


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_adapter_file_mode_follows_the_umask(tmp_path, umask, expected):
    dit = tiny_dit()
    deltas = _trained_deltas(dit)
    old = os.umask(umask)
    try:
        path = save_adapter(tmp_path / "a.safetensors", deltas, LoraSpec(rank=2, alpha=4.0), dit.cfg)
    finally:
        os.umask(old)
    assert _mode(path) == expected and load_adapter(path, dit.cfg) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]  # no probe or temp file left


def test_lora_recipe_on_a_messy_folder(exported_lmdm, diffusion_tiny, tmp_path, monkeypatch, capsys, umask_022):
    models = exported_lmdm.parent
    _loops(tmp_path / "loops", np.random.default_rng(0))
    monkeypatch.setenv("LMD_STUDIO_HOME", str(tmp_path / "home"))
    capsys.readouterr()
    rc = lmd_main(["train", "lora", "--audio", str(tmp_path / "loops"), "--name", "my loops!", "--model",
                   str(models / "m"), "--config", str(diffusion_tiny.config("lora")), "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0
    adapter = tmp_path / "home" / "data" / "adapters" / "my-loops.safetensors"
    assert adapter.is_file() and read_metadata(adapter)["format"] == "lmd-lora"
    assert _mode(adapter) == 0o644  # readable like every other file the user has (was 0600)
    assert "used 4 files" in out and "3 train / 1 held-out files" in out
    assert "lora: held-out heldout_val_loss_base" in out and "no held-out files" not in out
    for name, reason in (("silent.wav", "silent"), ("click.wav", "too short"), ("broken.flac", "unreadable"),
                         ("notes.txt", "not an audio file")):
        assert any(name in line and reason in line for line in out.splitlines()), name
    report = json.loads((tmp_path / "home" / "data" / "adapters" / "runs" / "my-loops" / "report.json").read_text())
    assert report["heldout_files"] == 1 and np.isfinite(report["heldout_val_loss_adapter"])
    # the studio's generator takes it
    gen = TorchBlockGenerator.from_folder(models / "m", threads=1, text_encoder=FakeTextEncoder(16, 8))
    gen.set_adapter(adapter, 0.7)
    audio, _ = gen.generate_block(gen.init_state(0), BlockControls(prompts=(PromptSlot("bass", 1.0),)))
    assert np.isfinite(audio).all()
    # a folder with nothing usable is a clear error
    (tmp_path / "empty").mkdir()
    assert lmd_main(["train", "lora", "--audio", str(tmp_path / "empty"), "--name", "x", "--model", str(models / "m"),
                     "--config", str(diffusion_tiny.config("lora")), "--device", "cpu"]) == 2



def test_lora_on_too_few_files_says_its_metrics_are_on_training_files(exported_lmdm, diffusion_tiny, tmp_path,
                                                                      monkeypatch, capsys):
    loops = tmp_path / "two"
    loops.mkdir()
    t = np.arange(int(22050 * 1.5)) / 22050
    sf.write(loops / "warm_bass.wav", 0.3 * np.sin(2 * np.pi * 110 * t), 22050)
    sf.write(loops / "soft_pad.wav", 0.2 * np.sin(2 * np.pi * 220 * t), 22050)
    monkeypatch.setenv("LMD_STUDIO_HOME", str(tmp_path / "home"))
    capsys.readouterr()
    assert lmd_main(["train", "lora", "--audio", str(loops), "--name", "two", "--model", str(exported_lmdm),
                     "--config", str(diffusion_tiny.config("lora")), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "no held-out files (all 2 used for training); the metrics at the end are on training files" in out
    assert "held-out heldout_" not in out and "heldout_val_loss" not in out
    assert "lora: on training files (none held out): train_val_loss_base" in out
    report = json.loads((tmp_path / "home" / "data" / "adapters" / "runs" / "two" / "report.json").read_text())
    assert report["heldout_files"] == 0 and not [k for k in report if k.startswith("heldout_") and k != "heldout_files"]
    assert np.isfinite(report["train_val_loss_adapter"])
