"""The progression knob reaches the model as a chord a bar: each latent frame hears the triad of the bar it
is in, changing on the exact frame of the bar line (inside a block too); offline and on the engine's clock
the bars agree; held notes, an auto key or no tempo leave it silent."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import lmd_studio.model.generator as generator_module
from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.core.musical_key import Key
from lmd_studio.core.progression import chord_for_bar, frame_bars, progression_from_knob
from lmd_studio.model.conditioning import progression_chroma_frames
from lmd_studio.model.dit_config import CONTROL_VALUE_CHANNELS
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import LinearTestCodec, tiny_dit

torch.set_num_threads(1)
BPM, BEATS_PER_BAR = 400.0, 1  # 0.15-s bars: 18.75 frames of 125 a second, so bar lines fall inside blocks
C_MAJOR_I_V_VI_IV = {"steps": 2.0, "pitch": 0.0, "progression": 1.0}


def _generator(**dit: Any) -> TorchBlockGenerator:
    net = tiny_dit(seed=5, block_frames=8, context_frames=16, **dit)
    return TorchBlockGenerator(net, LinearTestCodec(), FakeTextEncoder(net.cfg.text_dim), config=GeneratorConfig())


def _controls(values: dict[str, float] = C_MAJOR_I_V_VI_IV, **kw: Any) -> BlockControls:
    return BlockControls(values=values, prompts=(PromptSlot("piano", 1.0),), bpm=kw.pop("bpm", BPM),
                         beats_per_bar=BEATS_PER_BAR, **kw)


def _run(gen: TorchBlockGenerator, controls: list[BlockControls]) -> torch.Tensor:
    state, out = gen.init_state(0), []
    with torch.inference_mode():
        for c in controls:
            latents, state = gen.generate_latents(state, c)
            out.append(latents)
    return torch.cat(out, dim=1)


def test_the_frames_hear_their_bars_chord_changing_on_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[torch.Tensor] = []
    real = generator_module.frame_conditioning

    def recording(*args: Any, **kw: Any) -> torch.Tensor:
        cond = real(*args, **kw)
        seen.append(cond)
        return cond

    monkeypatch.setattr(generator_module, "frame_conditioning", recording)
    gen = _generator()
    _run(gen, [_controls()] * 4)
    chroma = torch.cat(seen)[:, 3:3 + 12]  # [32 frames, 12]: blocks of 8
    assert torch.all(torch.cat(seen)[:, CONTROL_VALUE_CHANNELS + 3] == 1.0)  # the pitch input is "given"
    rate_hz = gen.codec.sample_rate / gen.codec.hop_frames
    bars = frame_bars(0.0, 32, rate_hz, BPM, BEATS_PER_BAR)
    prog = progression_from_knob(1)
    assert prog is not None
    for frame in range(32):
        want = sorted(chord_for_bar(Key(0, False), prog, int(bars[frame])))
        assert list(np.flatnonzero(chroma[frame].numpy())) == want, frame
    changes = list(np.flatnonzero(np.diff(bars)) + 1)
    assert changes == [19] and 16 < changes[0] < 24  # a bar line inside the third block, on its frame
    assert not torch.equal(chroma[18], chroma[19])  # C, then G from the line on


def test_offline_and_engine_counted_bars_agree() -> None:
    gen = _generator()
    rate_hz = gen.codec.sample_rate / gen.codec.hop_frames
    per_block = BPM / 60.0 / rate_hz * 8
    told = []
    for block in range(5):
        beats = block * per_block
        bar = int(beats // BEATS_PER_BAR)
        told.append(_controls(bar_number=bar, bar_position_beats=beats - bar * BEATS_PER_BAR))
    offline = _run(gen, [_controls()] * 5)
    engine = _run(gen, told)
    torch.testing.assert_close(offline, engine, rtol=0, atol=1e-6)


def test_the_model_hears_it_and_held_notes_auto_key_or_no_tempo_silence_it() -> None:
    gen = _generator()
    key_only = {"steps": 2.0, "pitch": 0.0}
    with_prog = _run(gen, [_controls()] * 4)
    assert not torch.allclose(with_prog, _run(gen, [_controls(key_only)] * 4))  # it reaches the network
    held = ((60, 100), (64, 100), (67, 100))
    assert torch.equal(_run(gen, [_controls(held_notes=held)] * 3), _run(gen, [_controls(key_only, held_notes=held)] * 3))
    no_tempo = _run(gen, [_controls(bpm=None)] * 3)
    assert torch.equal(no_tempo, _run(gen, [_controls(key_only, bpm=None)] * 3))
    c = _controls()
    assert progression_chroma_frames(c, None) is None  # no bars known (no tempo)
    auto = BlockControls(values=C_MAJOR_I_V_VI_IV, auto=frozenset({"pitch"}), bpm=BPM)
    assert progression_chroma_frames(auto, np.zeros(4, np.int64)) is None
    off = _controls({"steps": 2.0, "pitch": 0.0, "progression": 0.0})
    assert progression_chroma_frames(off, np.zeros(4, np.int64)) is None
    frames = progression_chroma_frames(c, np.array([0, 1, 2, 3]))
    assert frames is not None and frames.shape == (4, 12)
