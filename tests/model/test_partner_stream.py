"""Jam mode at inference: partner audio heard late reaches the model exactly as in training.

The reference recomputes every block from scratch over the whole history, with the partner visible up to
the block's cut-off (training's function, model/conditioning.accompaniment_features): the streamed
generator, with its cache and the re-encoding of chunks whose partner frames arrived after they were
cached, must produce the same latents.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.conditioning import frame_conditioning, guided_target_rows
from lmd_studio.model.generator import TorchBlockGenerator, block_seed
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.partner_track import PartnerEncoder, PartnerTrack, stale_chunks
from lmd_studio.model.streaming import window_velocity
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import LinearTestCodec, tiny_dit

torch.set_num_threads(1)
CONTROLS = BlockControls(values={"steps": 3.0, "guidance": 2.0}, prompts=(PromptSlot("bass and drums", 1.0),))


def make(mode: str) -> TorchBlockGenerator:
    dit = tiny_dit(seed=5, pattern=mode)
    return TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                               config=GeneratorConfig(mode=mode, sampler="pingpong", jam_trained=True))


def partner_latents(gen: TorchBlockGenerator, n_frames: int) -> torch.Tensor:
    return torch.randn(n_frames, gen.dit.cfg.latent_channels, generator=torch.Generator().manual_seed(3))


def heard_before(block: int, o: int, lag_frames: int) -> int:
    """How many partner frames have arrived when block `block` is generated: up to the block's start
    minus the lag (live input is late), never fewer than none."""
    return max(0, block * o - lag_frames)


def streamed(gen: TorchBlockGenerator, partner: torch.Tensor, n_blocks: int, lag_frames: int,
             start_frame: int = 0, reach_frames: int = 0) -> list[torch.Tensor]:
    o = gen.dit.cfg.block_frames
    state = gen.init_state(11)
    out = []
    heard = start_frame
    for n in range(n_blocks):
        upto = max(heard, heard_before(n, o, lag_frames))
        if upto > heard:
            state = gen.hear_partner(state, partner[heard:upto], start_frame=heard, reach_frames=reach_frames)
            heard = upto
        with torch.inference_mode():
            x, state = gen.generate_latents(state, CONTROLS)
        out.append(x)
    return out


def reference(gen: TorchBlockGenerator, partner: torch.Tensor, n_blocks: int, lag_frames: int,
              start_frame: int = 0, reach_frames: int = 0) -> list[torch.Tensor]:
    dit, cfg = gen.dit, gen.dit.cfg
    o, a0 = cfg.block_frames, cfg.control_channels
    spec = gen.sampler_spec(CONTROLS)
    text = gen.text_kv(CONTROLS.prompt_mix, spec.guidance)
    plain_cond = frame_conditioning(cfg, o, CONTROLS)[None]
    history = torch.zeros(1, 0, cfg.latent_channels)
    out = []
    for n in range(n_blocks):
        start = n * o
        heard_end = max(start_frame, heard_before(n, o, lag_frames))
        track = PartnerTrack(partner[start_frame:heard_end], start_frame, reach_frames)
        ctx = history if cfg.routing and gen.config.mode == "blockcausal" else history[:, -cfg.context_frames:]
        n_ctx = ctx.shape[1]
        ctx_cond = plain_cond.repeat(1, n_ctx // o, 1) if n_ctx else torch.zeros(1, 0, plain_cond.shape[2])
        if n_ctx:
            ctx_cond[0, :, a0:a0 + cfg.accomp_channels] = track.features(start - n_ctx, n_ctx, track.cut_off(start))
        target_cond = plain_cond.clone()  # the partner reaches into the block only in delay mode (reach > 0)
        if track.cut_off(start) > start:
            target_cond[0, :, a0:a0 + cfg.accomp_channels] = track.features(start, o, track.cut_off(start))
        gen_n = torch.Generator().manual_seed(block_seed(11, n))

        target_cond = guided_target_rows(target_cond, text.batch)  # guided: the pitch on Auto in row 1

        def denoise(x, t, ctx=ctx, ctx_cond=ctx_cond, target_cond=target_cond):  # noqa: ANN001, ANN202
            return window_velocity(dit, ctx, x, t, text, pattern=gen.config.mode, context_cond=ctx_cond,
                                   target_cond=target_cond)

        with torch.inference_mode():
            x = spec.run(denoise, (1, o, cfg.latent_channels), gen_n)
        history = torch.cat([history, x], dim=1)
        out.append(x)
    return out


@pytest.mark.parametrize("mode", ["blockcausal", "encdec"])
@pytest.mark.parametrize(("lag_frames", "start_frame"), [(3, 0), (5, 0), (1, 4)])
def test_streamed_jam_equals_the_full_window_with_the_partner_cut_off(mode: str, lag_frames: int,
                                                                      start_frame: int) -> None:
    gen = make(mode)
    o = gen.dit.cfg.block_frames
    n_blocks = gen.dit.cfg.window_chunks + 5  # the window slides, so old chunks leave the cache
    partner = partner_latents(gen, n_blocks * o)
    a = streamed(gen, partner, n_blocks, lag_frames, start_frame)
    b = reference(gen, partner, n_blocks, lag_frames, start_frame)
    for n, (x, y) in enumerate(zip(a, b)):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4, msg=f"block {n} differs")


@pytest.mark.parametrize("mode", ["blockcausal", "encdec"])
@pytest.mark.parametrize("lag_frames", [-4, -1, 2])
def test_streamed_delay_equals_the_full_window_with_the_partner_in_the_block(mode: str, lag_frames: int) -> None:
    """Generative delay: the partner (the input shifted by d) reaches into the block being generated as far
    as it has arrived (lag < 0: ahead of the block's start, part of the block; lag > 0: not even that far);
    the block sees it in its own frame conditioning and the cache stays the full-window computation."""
    gen = make(mode)
    o = gen.dit.cfg.block_frames
    n_blocks = gen.dit.cfg.window_chunks + 4
    partner = partner_latents(gen, (n_blocks + 2) * o)
    a = streamed(gen, partner, n_blocks, lag_frames, reach_frames=o)
    b = reference(gen, partner, n_blocks, lag_frames, reach_frames=o)
    for n, (x, y) in enumerate(zip(a, b)):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4, msg=f"block {n} differs")
    # and reaching into the block matters: the same partner, seen only up to each block's start, differs
    c = streamed(gen, partner, n_blocks, lag_frames, reach_frames=0)
    assert not torch.allclose(a[-1], c[-1], atol=1e-3) if lag_frames < 0 else torch.equal(a[-1], c[-1])


def test_the_model_hears_the_partner() -> None:
    """Same seed, same prompt: with a partner the blocks differ from the solo stream (the channels are
    wired), and a silent stream with no partner is unchanged by the jam code (solo bit-identical)."""
    gen = make("blockcausal")
    o = gen.dit.cfg.block_frames
    partner = partner_latents(gen, 10 * o)
    jam = streamed(gen, partner, 8, lag_frames=3)
    state, solo = gen.init_state(11), []
    for _ in range(8):
        with torch.inference_mode():
            x, state = gen.generate_latents(state, CONTROLS)
        solo.append(x)
    assert torch.equal(jam[0], solo[0])  # the first block has no context, so nothing to hear yet
    assert not torch.allclose(jam[-1], solo[-1], atol=1e-3)
    assert all(c is None for c in state.chunk_cut_offs) and len(state.chunk_cut_offs) == state.stream.cache.n_chunks


def test_stale_chunks_counts_from_the_oldest_changed_chunk() -> None:
    track = PartnerTrack(torch.zeros(20, 4), start_frame=0)
    # three cached chunks of 2 frames at frames 4..9, cached under cut-offs 6, 7, 9; now the cut-off is 9
    assert stale_chunks(track, (6, 7, 9), 4, 2, 9) == 2  # chunk 6..7 had frame 7 hidden: it and 8..9 again
    assert stale_chunks(track, (5, 7, 9), 4, 2, 9) == 3  # chunk 4..5 had frame 5 hidden: all three
    assert stale_chunks(track, (6, 8, 10), 4, 2, 10) == 0
    assert stale_chunks(track, (None, None), 0, 2, 3) == 2  # the partner started after both were cached
    assert stale_chunks(None, (5,), 0, 2, 9) == 0


def test_partner_encoder_gives_the_offline_latents_in_pieces() -> None:
    codec = LinearTestCodec()
    audio = np.random.default_rng(0).standard_normal((codec.hop_frames * 40 + 17, 1)).astype(np.float32)
    offline = codec.encode(torch.from_numpy(audio.T)[None])[0]
    enc = PartnerEncoder(codec, margin_frames=2, window_frames=8)
    pieces = [enc.push(audio[i:i + 150]) for i in range(0, len(audio), 150)]
    got = torch.cat(pieces)
    assert got.shape[0] == 40 - 2  # the last `margin` frames wait for the audio after them
    torch.testing.assert_close(got, offline[:38], atol=1e-5, rtol=1e-5)


def test_live_source_hears_what_has_arrived_by_each_block() -> None:
    from lmd_studio.model.jam import JamGenerator, LivePartnerSource

    gen = make("blockcausal")
    codec, o = gen.codec, gen.dit.cfg.block_frames
    audio = np.random.default_rng(1).standard_normal((codec.hop_frames * o * 8, 1)).astype(np.float32)
    chunks = iter(np.array_split(audio, 8))  # one block of partner audio arrives per generated block
    source = LivePartnerSource(PartnerEncoder(codec, margin_frames=1, window_frames=8), lambda: next(chunks))
    jam = JamGenerator(gen, source, lookahead_s=0.0)
    offline = codec.encode(torch.from_numpy(audio.T)[None])[0]
    state = jam.init_state(3)
    for n in range(8):
        _, state = jam.generate_block(state, CONTROLS)
        arrived = (n + 1) * o - 1  # frames final after n + 1 chunks (one waits for the audio after it)
        assert source.available_frames() == arrived
        heard = jam.heard_by(state).partner
        assert heard is not None and heard.end_frame == min(arrived, (n + 1) * o)
    torch.testing.assert_close(source.latents(0, 8 * o - 1), offline[: 8 * o - 1], atol=1e-5, rtol=1e-5)
