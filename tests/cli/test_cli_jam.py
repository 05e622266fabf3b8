"""`lmd jam`: the real entry point on a tiny model folder, and the JamGenerator it builds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.jam import JamGenerator
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.cli.test_cli_render import run_cli
from tests.model.lmdm_support import LinearTestCodec, tiny_dit
from tests.support.model_folders import tiny_model_folder


def _part(path: Path, seconds: float = 3.0, rate: int = 48000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    clicks = (np.sin(2 * np.pi * 220 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32) * 0.5
    sf.write(path, clicks, rate)
    return path


def test_jam_writes_the_generated_part_and_the_mix(tmp_path: Path) -> None:
    model = tiny_model_folder(tmp_path / "model")
    part = _part(tmp_path / "part.wav")
    out, mix = tmp_path / "band.wav", tmp_path / "mix.flac"
    proc = run_cli("jam", "--input", str(part), "--out", str(out), "--mix-out", str(mix), "--model", str(model),
                   "--prompt", "bass and drums", "--lookahead-s", "0.5", "--set", "steps=2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "was not jam-trained" in proc.stderr  # the tiny model's channels were never trained: it says so
    generated, rate = sf.read(out, dtype="float32")
    mixed, mix_rate = sf.read(mix, dtype="float32")
    assert mix_rate == rate and len(generated) == len(mixed) == pytest.approx(3.0 * rate, abs=1)
    assert np.isfinite(generated).all() and np.abs(mixed).max() <= 1.0
    part_at_rate = mixed - generated  # the mix is the part plus the generated audio (below the limiter)
    assert np.abs(part_at_rate).max() > 0.1


def test_jam_rejects_bad_input_with_one_line(tmp_path: Path) -> None:
    missing = run_cli("jam", "--input", str(tmp_path / "none.wav"), "--out", str(tmp_path / "o.wav"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    junk = run_cli("jam", "--input", str(tmp_path / "junk.wav"), "--out", str(tmp_path / "o.wav"), "--model", "fake")
    assert junk.returncode == 1 and "cannot read it as audio" in junk.stderr and "Traceback" not in junk.stderr
    part = _part(tmp_path / "part.wav", seconds=1.0)
    fake = run_cli("jam", "--input", str(part), "--out", str(tmp_path / "o.wav"), "--model", "fake")
    assert fake.returncode == 1 and "cannot hear a partner" in fake.stderr
    late = run_cli("jam", "--input", str(part), "--out", str(tmp_path / "o.wav"), "--lookahead-s", "nan")
    assert late.returncode == 2 and "between 0 and 3" in late.stderr
    assert not (tmp_path / "o.wav").exists()


def test_jam_generator_hears_the_partner_only_up_to_the_lookahead() -> None:
    dit = tiny_dit(seed=2)
    inner = TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                                config=GeneratorConfig(jam_trained=True))
    o = dit.cfg.block_frames
    partner = torch.randn(12 * o, dit.cfg.latent_channels)
    rate_hz = inner.codec.sample_rate / inner.codec.hop_frames
    jam = JamGenerator(inner, partner, lookahead_s=3 / rate_hz)  # three latent frames late
    controls = BlockControls(values={"steps": 2.0}, prompts=(PromptSlot("drums", 1.0),))
    state = jam.init_state(1)
    for n in range(6):
        heard = jam.heard_by(state)
        assert (0 if heard.partner is None else heard.partner.end_frame) == max(0, n * o - 3)
        _, state = jam.generate_block(state, controls)
    assert state.partner is not None and torch.equal(state.partner.latents, partner[:5 * o - 3])
    # a rewound state replays the same partner: the block is bit-identical
    again = jam.init_state(1)
    blocks = []
    for _ in range(6):
        audio, again = jam.generate_block(again, controls)
        blocks.append(audio)
    first = jam.init_state(1)
    for _ in range(5):
        _, first = jam.generate_block(first, controls)
    replay, _ = jam.generate_block(first, controls)
    assert np.array_equal(replay, blocks[-1])
