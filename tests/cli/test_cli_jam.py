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
    late = run_cli("jam", "--input", str(part), "--out", str(tmp_path / "o.wav"), "--lookahead-s", "9")
    assert late.returncode == 2 and "between 0 and 3" in late.stderr
    nan = run_cli("jam", "--input", str(part), "--out", str(tmp_path / "o.wav"), "--lookahead-s", "nan")
    assert nan.returncode == 2 and "--lookahead-s must be a finite number" in nan.stderr
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


def test_jam_delay_mode_answers_after_the_delay_and_mixes_dry_and_wet(tmp_path: Path) -> None:
    model = tiny_model_folder(tmp_path / "model")
    part = _part(tmp_path / "part.wav", seconds=2.0)
    out, mix = tmp_path / "answer.wav", tmp_path / "mix.wav"
    proc = run_cli("jam", "--input", str(part), "--out", str(out), "--mix-out", str(mix), "--model", str(model),
                   "--mode", "delay", "--delay-s", "1.5", "--dry-wet", "0", "--set", "steps=2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "not trained for generative delay" in proc.stderr and "1.50 s later" in proc.stdout
    generated, rate = sf.read(out, dtype="float32")
    mixed, _ = sf.read(mix, dtype="float32")
    assert len(generated) == pytest.approx(3.5 * rate, abs=1)  # the part's length plus the delay
    # Dry/Wet 0: the mix is the part alone (the model's answer left out), at the file's rate
    part_at_rate = mixed if mixed.ndim == 1 else mixed[:, 0]
    assert np.abs(part_at_rate[: int(2.0 * rate)]).max() > 0.1 and np.abs(part_at_rate[int(2.1 * rate):]).max() == 0
    bad = run_cli("jam", "--input", str(part), "--out", str(tmp_path / "o.wav"), "--mode", "delay",
                  "--delay-s", "9")
    assert bad.returncode == 2 and "between 0.5 and 4" in bad.stderr and not (tmp_path / "o.wav").exists()


def _delay_jam(switchable: bool, delay_s: float | None = None):  # noqa: ANN202
    dit = tiny_dit(seed=2)
    inner = TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                                config=GeneratorConfig(jam_trained=True, delay_trained=True))
    partner = torch.randn(40 * dit.cfg.block_frames, dit.cfg.latent_channels)
    return JamGenerator(inner, partner, lookahead_s=0.0, switchable=switchable, delay_s=delay_s), partner


def test_generative_delay_hears_the_partner_shifted_by_the_delay_into_the_block() -> None:
    jam, partner = _delay_jam(switchable=False, delay_s=1.0)
    o = jam.inner.dit.cfg.block_frames
    d = int(round(1.0 * jam.rate_hz))
    controls = BlockControls(values={"steps": 2.0}, prompts=(PromptSlot("strings", 1.0),))
    state = jam.init_state(1)
    for n in range(5):
        placed = jam.placed(state, controls)
        track = placed.partner
        heard_to = n * o + d  # the input heard up to the block's start, shifted by d
        if heard_to <= d:
            assert track is None
        else:
            assert (track.start_frame, track.end_frame, track.shift_frames, track.reach_frames) == (d, heard_to, d, o)
            assert torch.equal(track.latents, partner[: heard_to - d])  # stream frame f holds input frame f - d
            assert track.cut_off(n * o) == min(heard_to, n * o + o)  # visible into the block
        _, state = jam.generate_block(state, controls)


def test_the_studio_switches_between_accompany_and_delay_with_one_deaf_block() -> None:
    jam, _ = _delay_jam(switchable=True)
    o = jam.inner.dit.cfg.block_frames
    base = {"steps": 2.0, "jam": 1.0, "follow": 1.0}

    def controls(**values: float) -> BlockControls:
        return BlockControls(values={**base, **values}, prompts=(PromptSlot("strings", 1.0),),
                             stream_position=0)

    state = jam.init_state(1)
    for _ in range(3):  # accompany: heard up to each block's start
        _, state = jam.generate_block(state, controls(delay=0.0))
    assert state.partner is not None and state.partner.shift_frames == 0 and state.partner.end_frame == 2 * o
    switched = jam.placed(state, controls(delay=1.0, delay_s=0.5))
    d = int(round(0.5 * jam.rate_hz))
    assert switched.partner is not None and len(switched.partner.latents) == 0  # deaf for this block ...
    assert (switched.partner.shift_frames, switched.partner.reach_frames) == (d, o)
    _, state = jam.generate_block(state, controls(delay=1.0, delay_s=0.5))
    listening = jam.placed(state, controls(delay=1.0, delay_s=0.5)).partner  # ... then listening, shifted
    assert listening is not None and listening.start_frame == d and listening.end_frame == 4 * o + d
    longer = jam.placed(state, controls(delay=1.0, delay_s=2.0)).partner  # a new delay time: deaf again
    assert longer is not None and len(longer.latents) == 0 and longer.shift_frames == int(round(2.0 * jam.rate_hz))
