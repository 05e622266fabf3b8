"""The latent dataset step: encoding, resuming, errors, windows, deterministic batches, control mapping."""

import numpy as np
import pytest
import torch

from lmd_studio.data.corpus import Corpus, CorpusError
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.batches import WindowSampler
from lmd_studio.training.controls import (
    centroid_to_unit,
    loudness_to_unit,
    masked_controls,
    unit_to_centroid_hz,
    unit_to_loudness_db,
)
from lmd_studio.training.latents import LatentSet, encode_corpus
from lmd_studio.training.text_bank import TextBank
from tests.training.diffusion_support import make_tiny_codec


def test_every_item_is_encoded_with_aligned_controls(diffusion_tiny):
    corpus = Corpus.open(diffusion_tiny.corpus)
    for split in ("train", "test"):
        data = LatentSet.open(diffusion_tiny.latents, split)
        assert {it.id for it in data.items} == {it.id for it in corpus.items(split, commercial_only=True)}
        for it in data.items:
            assert it.latents.shape[1] == 32 and it.latents.shape[0] == it.controls.shape[0] > 0
            assert np.isfinite(it.latents).all()
            assert it.controls.min() >= 0.0 and it.controls.max() <= 1.0
    train = LatentSet.open(diffusion_tiny.latents, "train")
    assert train.descriptions and all(isinstance(d, str) and d for d in train.descriptions)


def test_encoding_resumes_and_rejects_a_different_codec(diffusion_tiny, tmp_path):
    logs = []
    encode_corpus(diffusion_tiny.corpus, diffusion_tiny.codec, diffusion_tiny.latents, log=logs.append)
    assert "0 items encoded" in logs[-1]  # everything was already there
    victim = sorted((diffusion_tiny.latents / "train").glob("*.npz"))[0]
    saved = victim.read_bytes()
    victim.unlink()
    logs.clear()
    encode_corpus(diffusion_tiny.corpus, diffusion_tiny.codec, diffusion_tiny.latents, log=logs.append)
    assert "1 items encoded" in logs[-1] and victim.read_bytes() == saved  # deterministic re-encoding
    other = tmp_path / "other.safetensors"
    make_tiny_codec(other)
    with torch.no_grad():  # a different codec: same config, other weights
        from lmd_studio.model.codec import load_codec, save_codec

        net = load_codec(other).net
        for p in net.parameters():
            p.add_(0.01)
        save_codec(other, net)
    with pytest.raises(CorpusError, match="latents of another codec"):
        encode_corpus(diffusion_tiny.corpus, other, diffusion_tiny.latents, log=lambda *_: None)


def test_clear_errors_for_missing_inputs(diffusion_tiny, tmp_path):
    with pytest.raises(CorpusError, match="codec file not found"):
        encode_corpus(diffusion_tiny.corpus, tmp_path / "nope.safetensors", tmp_path / "l")
    with pytest.raises(CorpusError, match="not a corpus folder"):
        encode_corpus(tmp_path, diffusion_tiny.codec, tmp_path / "l")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(CorpusError, match="not a usable codec"):
        encode_corpus(diffusion_tiny.corpus, junk, tmp_path / "l")
    with pytest.raises(CorpusError, match="no latents.json"):
        LatentSet.open(tmp_path, "train")


def test_short_items_are_padded_with_the_codec_silence(diffusion_tiny):
    data = LatentSet.open(diffusion_tiny.latents, "train")
    shortest = min(range(len(data.items)), key=lambda i: len(data.items[i].latents))
    n = len(data.items[shortest].latents)
    z, c, clock = data.window(shortest, n + 5, np.random.default_rng(0))
    assert z.shape == (n + 5, 32) and c.shape == (n + 5, 15) and clock.shape == (n + 5, 6)
    np.testing.assert_array_equal(z[n:], np.broadcast_to(data.silence, (5, 32)))
    assert (c[n:] == 0).all() and (clock[n:] == 0).all()


def test_windows_carry_the_clock_of_items_with_a_grid(diffusion_tiny):
    """Drum and bar-aligned score items store their grid; a window's clock channels are the grid's at the
    window's own frames (bar 1 at the item's first frame); items without a grid get zeros."""
    from lmd_studio.core.musical_clock import TempoMap, clock_channels
    from lmd_studio.data.corpus import Corpus
    from lmd_studio.data.grid import clip_tempo_map

    corpus = Corpus.open(diffusion_tiny.corpus)
    data = LatentSet.open(diffusion_tiny.latents, "train")
    rate = data.meta["latent_rate_hz"]
    seen_grid = seen_none = False
    for i, it in enumerate(data.items):
        expected = clip_tempo_map(corpus.item(it.id))
        assert (it.tempo_map is None) == (expected is None), it.id
        rng = np.random.default_rng(5)
        start = int(np.random.default_rng(5).integers(0, len(it.latents) - 8 + 1)) if len(it.latents) > 8 else 0
        _, _, clock = data.window(i, 8, rng)
        if expected is None:
            assert not clock.any()
            seen_none = True
        else:
            assert it.grid_bpm == expected.segments[0].bpm
            want = clock_channels(TempoMap.constant(it.grid_bpm, it.grid_beats_per_bar), (start + np.arange(8)) / rate)
            np.testing.assert_allclose(clock, want, atol=1e-6)
            seen_grid = True
    assert seen_grid and seen_none


def test_batches_depend_only_on_step_and_rank(diffusion_tiny):
    data = LatentSet.open(diffusion_tiny.latents, "train")
    bank = TextBank.build(data.descriptions, FakeTextEncoder(16, 8), 8)
    sampler = WindowSampler(data, bank, 12, seed=3)
    a, b = sampler.batch(5, 4), sampler.batch(5, 4)
    assert torch.equal(a.latents, b.latents) and torch.equal(a.text_ids, b.text_ids)
    assert not torch.equal(a.latents, sampler.batch(5, 4, rank=1).latents)
    assert not torch.equal(a.latents, sampler.batch(6, 4).latents)
    assert a.latents.shape == (4, 12, 32) and a.controls.shape == (4, 12, 15)


def test_control_units_and_masking():
    assert loudness_to_unit(-60) == 0 and loudness_to_unit(0) == 1 and loudness_to_unit(-90) == 0
    np.testing.assert_allclose(unit_to_loudness_db(loudness_to_unit(-24.0)), -24.0)
    np.testing.assert_allclose(unit_to_centroid_hz(centroid_to_unit(1500.0)), 1500.0)
    values = torch.rand(2, 8, 15)
    given = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    out = masked_controls(values, given)
    assert out.shape == (2, 8, 19)
    assert torch.equal(out[0, :, 0], values[0, :, 0]) and (out[0, :, 1] == 0).all() and (out[0, :, 3:15] == 0).all()
    assert torch.equal(out[1, :, 3:15], values[1, :, 3:15]) and (out[1, :, 0] == 0).all()
    assert torch.equal(out[:, :, 15:], given[:, None].expand(2, 8, 4))
    held = masked_controls(values, torch.ones(2, 4), block_frames=4, hold=torch.tensor([True, False]))
    torch.testing.assert_close(held[0, :4, 0], values[0, :4, 0].mean().expand(4))  # one value per block
    assert torch.equal(held[1, :, :15], values[1])


def test_text_bank_cache_round_trip(tmp_path):
    encoder = FakeTextEncoder(16, 8)
    texts = [f"prompt number {i} with words" for i in range(70)]  # more than one encoding chunk
    fresh = TextBank.build(texts, encoder, 8, tmp_path / "bank.npz")
    cached = TextBank.build(texts[:50], encoder, 8, tmp_path / "bank.npz")  # read back from the file
    for t in texts[:50]:
        i, j = fresh.index[t], cached.index[t]
        assert torch.equal(fresh.tokens[i], cached.tokens[j]) and torch.equal(fresh.mask[i], cached.mask[j])
        torch.testing.assert_close(fresh.pooled[i], cached.pooled[j])
    assert cached.tokens.shape == (50, 8, 16)
    cond = cached.condition(torch.tensor([0, 1]), drop=torch.tensor([False, True]))
    assert cond.is_null.tolist() == [False, True] and cond.tokens.shape == (2, 1, 8, 16)


def test_partner_stems_are_encoded_beside_their_mix_and_added_to_older_files(diffusion_tiny, tmp_path):
    import shutil

    corpus = Corpus.open(diffusion_tiny.corpus)
    with_stems = {it.id: it for it in corpus.items() if it.stems}
    assert with_stems, "the tiny corpus has multi-part items with stems"
    checked = 0
    for split in sorted({it.split for it in with_stems.values()}):
        for it in LatentSet.open(diffusion_tiny.latents, split).items:
            if it.id not in with_stems:
                assert it.stems == {}
                continue
            assert sorted(it.stems) == sorted(with_stems[it.id].stems)
            for latents, controls in it.stems.values():
                assert latents.shape == it.latents.shape and controls.shape == it.controls.shape
                assert np.isfinite(latents).all() and not np.array_equal(latents, it.latents)
            checked += 1
    assert checked == len(with_stems)
    # a latents folder encoded before the corpus had stems gets them added, the rest untouched
    old = tmp_path / "old"
    shutil.copytree(diffusion_tiny.latents, old)
    item_id = next(iter(with_stems))
    path = next(old.glob(f"*/{item_id}.npz"))
    with np.load(path) as z:
        full = {k: z[k] for k in z.files}
    np.savez(path, **{k: v for k, v in full.items() if not k.startswith("stem_")})
    logs = []
    encode_corpus(diffusion_tiny.corpus, diffusion_tiny.codec, old, log=logs.append)
    assert "partner stems added to 1" in logs[-1]
    with np.load(path) as z:
        assert sorted(z.files) == sorted(full) and all(np.array_equal(z[k], full[k]) for k in full)


def test_a_revoiced_render_added_to_the_corpus_later_is_encoded_alone(diffusion_tiny, tmp_path):
    """`lmd train latents` after the re-voice backfill: stem_revoiced_* joins each file that lacks it, and the
    arrays already there (mix and part stems) are kept as they were, not re-encoded."""
    import shutil

    from lmd_studio.data.revoice import REVOICED_STEM

    corpus = Corpus.open(diffusion_tiny.corpus)
    revoiced = [it for it in corpus.items(commercial_only=True) if REVOICED_STEM in it.stems]
    assert revoiced and all(it.kind in ("score", "mix") for it in revoiced)
    for split in sorted({it.split for it in revoiced}):
        got = {it.id: it for it in LatentSet.open(diffusion_tiny.latents, split).items}
        for it in (r for r in revoiced if r.split == split):
            assert REVOICED_STEM in got[it.id].stems
    old = tmp_path / "old"
    shutil.copytree(diffusion_tiny.latents, old)
    full = {}
    for it in revoiced:
        path = next(old.glob(f"*/{it.id}.npz"))
        with np.load(path) as z:
            full[path] = {k: z[k] for k in z.files}
        # as encoded before the backfill: part stems there, no re-voice; and a mark on a part stem's latents
        np.savez(path, **{k: (v + 1.0 if k.startswith("stem_") and k.endswith("_latents") else v)
                          for k, v in full[path].items() if not k.startswith(f"stem_{REVOICED_STEM}_")})
    logs = []
    encode_corpus(diffusion_tiny.corpus, diffusion_tiny.codec, old, log=logs.append)
    assert f"partner stems added to {len(revoiced)}" in logs[-1]
    for path, arrays in full.items():
        with np.load(path) as z:
            assert sorted(z.files) == sorted(arrays)
            for k in arrays:
                marked = k.startswith("stem_") and k.endswith("_latents") and REVOICED_STEM not in k
                assert np.array_equal(z[k], arrays[k] + 1.0 if marked else arrays[k]), (path.name, k)
