"""TorchBlockGenerator: the BlockGenerator contract with a random tiny model and a test-double codec."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lmd_studio.core.generator import BlockControls, BlockGenerator, PromptSlot
from lmd_studio.model.cpu_features import probe_cpu_features
from lmd_studio.model.generator import TorchBlockGenerator, block_seed
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import LinearTestCodec, tiny_dit

torch.set_num_threads(1)
PROMPT = (PromptSlot("slow organ chorale", 1.0),)


class CountingEncoder(FakeTextEncoder):
    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.calls = 0

    def encode(self, texts):  # noqa: ANN001, ANN201
        self.calls += 1
        return super().encode(texts)


def make(mode: str = "blockcausal", sampler: str = "pingpong", **kw) -> TorchBlockGenerator:  # noqa: ANN003
    dit = tiny_dit(seed=4)
    return TorchBlockGenerator(dit, LinearTestCodec(), CountingEncoder(dit.cfg.text_dim),
                               config=GeneratorConfig(mode=mode, sampler=sampler), **kw)


def _tensors(obj, out=None):  # noqa: ANN001, ANN202 — every tensor reachable in a (nested) state
    out = [] if out is None else out
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            _tensors(getattr(obj, f.name), out)
    return out


def run(gen: TorchBlockGenerator, controls: BlockControls, n: int, seed: int = 7) -> list[np.ndarray]:
    state = gen.init_state(seed)
    blocks = []
    for _ in range(n):
        audio, state = gen.generate_block(state, controls)
        blocks.append(audio)
    return blocks


def test_implements_the_protocol_with_correct_shapes() -> None:
    gen = make()
    assert isinstance(gen, BlockGenerator)
    assert gen.block_frames == gen.dit.cfg.block_frames * 64 and gen.context_frames == gen.dit.cfg.context_frames * 64
    assert {p.name for p in gen.param_specs} >= {"guidance", "temperature", "steps", "seed", "loudness",
                                                "brightness", "density", "pitch"}
    for audio in run(gen, BlockControls(prompts=PROMPT), 3):
        assert audio.dtype == np.float32 and audio.shape == (gen.block_frames, gen.channels)
        assert np.isfinite(audio).all() and audio.std() > 0


@pytest.mark.parametrize("mode", ["blockcausal", "encdec", "naive"])
def test_state_is_not_mutated_and_rewinding_repeats_the_block(mode: str) -> None:
    gen = make(mode)
    controls = BlockControls(values={"steps": 3, "guidance": 2.0}, prompts=PROMPT)
    state = gen.init_state(1)
    for _ in range(gen.dit.cfg.window_chunks + 1):  # fill the context / cache first
        _, state = gen.generate_block(state, controls)
    before = [t.clone() for t in _tensors(state)]
    a, next_a = gen.generate_block(state, controls)
    after = _tensors(state)
    assert len(before) == len(after) and all(torch.equal(x, y) for x, y in zip(before, after))
    b, next_b = gen.generate_block(state, controls)  # rewind: same state, same controls
    assert np.array_equal(a, b)
    assert all(torch.equal(x, y) for x, y in zip(_tensors(next_a), _tensors(next_b)))
    assert next_a.block_index == state.block_index + 1


def test_controls_reach_the_model() -> None:
    gen = make()
    base = BlockControls(values={"steps": 2}, prompts=PROMPT)
    ref = run(gen, base, 2)[-1]

    def differs(**changes) -> bool:  # noqa: ANN003
        controls = dataclasses.replace(base, **changes)
        return not np.allclose(run(gen, controls, 2)[-1], ref)

    assert differs(values={"steps": 2, "seed": 5})
    assert differs(values={"steps": 2, "temperature": 0.6})
    assert differs(values={"steps": 4})
    assert differs(values={"steps": 2, "guidance": 3.0})
    assert differs(values={"steps": 2, "loudness": 0.1})
    assert differs(held_notes=((60, 100), (64, 90)))
    assert differs(auto=frozenset({"loudness", "brightness"}))
    assert differs(prompts=(PromptSlot("glitchy breakbeat", 1.0),))
    assert not differs(values={"steps": 2, "master_gain_db": -20.0}), "params the model ignores change nothing"
    assert np.array_equal(run(gen, base, 2)[-1], ref), "same seed and controls: the same audio, bit for bit"


def test_weight_one_slot_equals_prompt_alone_at_the_generator() -> None:
    gen = make()
    alone = run(gen, BlockControls(prompts=(PromptSlot("slow organ chorale", 1.0),)), 2)[-1]
    mixed = run(gen, BlockControls(prompts=(PromptSlot("slow organ chorale", 1.0), PromptSlot("harsh noise", 0.0))), 2)[-1]
    assert np.array_equal(alone, mixed)


def test_text_kv_is_cached_per_mix() -> None:
    gen = make()
    controls = BlockControls(values={"steps": 1}, prompts=PROMPT)
    run(gen, controls, 3)
    assert gen.text_encoder.calls == 1
    run(gen, dataclasses.replace(controls, values={"steps": 1, "guidance": 2.0}), 1)  # CFG layout: new entry
    assert gen.cached_text_mixes == 2


def test_stage0_model_only_runs_naive_and_sizes_must_agree() -> None:
    base = tiny_dit(pattern="bidirectional", routing=False)
    with pytest.raises(ValueError, match="naive"):
        TorchBlockGenerator(base, LinearTestCodec(), FakeTextEncoder(base.cfg.text_dim))
    naive = TorchBlockGenerator(base, LinearTestCodec(), FakeTextEncoder(base.cfg.text_dim),
                                config=GeneratorConfig(mode="naive"))
    assert run(naive, BlockControls(), 2)[-1].shape == (naive.block_frames, 1)
    with pytest.raises(ValueError, match="latent channels"):
        TorchBlockGenerator(tiny_dit(), LinearTestCodec(latent_channels=5), FakeTextEncoder(16))
    with pytest.raises(ValueError, match="text encoder"):
        TorchBlockGenerator(tiny_dit(), LinearTestCodec(), FakeTextEncoder(384))


def test_block_seeds_are_distinct() -> None:
    seeds = {block_seed(s, b) for s in range(50) for b in range(50)}
    assert len(seeds) == 2500 and all(0 <= s < 2**63 for s in seeds)


@pytest.mark.skipif(not probe_cpu_features().bf16_matmul,
                    reason=f"bf16 {probe_cpu_features().bf16_skip_reason} (test_cpu_features.py covers the fallback)")
def test_bf16_inference_runs_on_a_copy_and_stays_close_to_fp32() -> None:
    dit = tiny_dit(seed=4)
    master = {k: v.clone() for k, v in dit.state_dict().items()}
    gen32 = TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim))
    gen16 = TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                                inference_dtype=torch.bfloat16)
    assert gen16.dit is not dit and gen16.dit.compute_dtype == torch.bfloat16
    assert all(torch.equal(master[k], v) for k, v in dit.state_dict().items()), "the fp32 master is untouched"
    controls = BlockControls(values={"steps": 2}, prompts=PROMPT)
    a, b = run(gen32, controls, 3)[-1], run(gen16, controls, 3)[-1]
    assert b.dtype == np.float32 and np.isfinite(b).all()
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def _clock_gen() -> TorchBlockGenerator:
    dit = tiny_dit(seed=4, clock_channels=6)
    return TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                               config=GeneratorConfig(mode="blockcausal", sampler="pingpong"))


def test_a_clocked_model_hears_the_tempo_and_keeps_counting_beats() -> None:
    """Model v2's clock: the beat count runs on in the state (125 frames/s codec here: 2 latent frames per
    block = 16 ms = 0.032 beats at 120 bpm), a different tempo changes the audio, no tempo leaves the
    count standing, and a rewound state repeats the block bit for bit — clock included."""
    gen = _clock_gen()
    at_120 = BlockControls(values={"steps": 2}, prompts=PROMPT, bpm=120.0)
    state = gen.init_state(3)
    for _ in range(3):
        _, state = gen.generate_block(state, at_120)
    block_s = gen.block_frames / gen.sample_rate
    assert state.clock_beats == pytest.approx(3 * block_s * 2.0)
    a, next_a = gen.generate_block(state, at_120)
    b, next_b = gen.generate_block(state, at_120)
    assert np.array_equal(a, b) and next_a.clock_beats == next_b.clock_beats
    slower, _ = gen.generate_block(state, dataclasses.replace(at_120, bpm=90.0))
    waltz, _ = gen.generate_block(state, dataclasses.replace(at_120, beats_per_bar=3))
    free, after_free = gen.generate_block(state, dataclasses.replace(at_120, bpm=None))
    assert not np.allclose(a, slower) and not np.allclose(a, waltz) and not np.allclose(a, free)
    assert after_free.clock_beats == state.clock_beats
    with pytest.raises(ValueError, match="beats_per_bar"):
        BlockControls(beats_per_bar=0)


@pytest.mark.parametrize("mode", ["naive", "encdec", "blockcausal"])
def test_guidance_hears_the_pitch_on_auto_in_its_unguided_row(mode: str, monkeypatch) -> None:  # noqa: ANN001
    """Guided, the unguided row hears the null prompt *and* the pitch control on Auto, so Guidance makes held
    notes and the key decisive; the stream keeps what was asked (row 0); unguided, one row as before."""
    import lmd_studio.model.generator as generator_module
    from lmd_studio.model.conditioning import pitch_on_auto

    seen = []
    real = generator_module.make_block_denoiser

    def recording(dit, mode_, state, text, target_cond, gen, **kw):  # noqa: ANN001, ANN003, ANN202
        seen.append((text.batch, target_cond.clone()))
        return real(dit, mode_, state, text, target_cond, gen, **kw)

    monkeypatch.setattr(generator_module, "make_block_denoiser", recording)
    gen = make(mode=mode, sampler="euler")
    chord = ((60, 100), (64, 90), (67, 80))
    guided = BlockControls(values={"steps": 2, "guidance": 3.0, "loudness": 0.4}, prompts=PROMPT, held_notes=chord)
    state = gen.init_state(1)
    for _ in range(3):
        _, state = gen.generate_block(state, guided)
    for batch, cond in seen:
        assert batch == 2 and cond.shape[0] == 2
        asked, unguided = cond[0], cond[1]
        assert asked[:, 3 + 60 % 12].min() > 0 and asked[:, 18].min() == 1.0  # the chord and its given bit
        assert torch.count_nonzero(unguided[:, 3:15]) == 0 and torch.count_nonzero(unguided[:, 18]) == 0
        assert torch.equal(unguided, pitch_on_auto(asked))
        assert torch.equal(unguided[:, :3], asked[:, :3]) and torch.equal(unguided[:, 19:], asked[:, 19:])
    assert state.stream.context_cond.shape[0] == 1  # what was asked is what the stream remembers
    assert torch.equal(state.stream.context_cond[0, -1], seen[-1][1][0, -1])
    seen.clear()
    _, _ = gen.generate_block(gen.init_state(1), dataclasses.replace(guided, values={"steps": 2}))
    assert [(b, c.shape[0]) for b, c in seen] == [(1, 1)]
