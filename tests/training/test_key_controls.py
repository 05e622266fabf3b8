"""Training shows a given pitch control either as chords (per frame or held per block) or, in key rows, as
the window's key profile — the shape the studio's key knob sends."""

from __future__ import annotations

import torch

from lmd_studio.training.batches import WindowBatch
from lmd_studio.training.controls import key_chroma, masked_controls
from lmd_studio.training.flow import CondDropout, batch_conditions


def test_key_rows_carry_the_window_mean_chroma_max_normalised() -> None:
    values = torch.zeros(2, 8, 15)
    values[:, :4, 3 + 0] = 1.0  # C chord for 4 frames ...
    values[:, :4, 3 + 4] = 0.5
    values[:, 4:, 3 + 7] = 1.0  # ... then G
    values[:, :, 0] = torch.linspace(0, 1, 8)  # loudness moves, and stays moving in key rows
    given = torch.ones(2, 4)
    out = masked_controls(values, given, 4, hold=torch.tensor([False, False]), key=torch.tensor([True, False]))
    key_row, chord_row = out[0, :, 3:15], out[1, :, 3:15]
    assert torch.allclose(key_row, key_row[0].expand(8, 12))  # constant over the window
    assert key_row[0, 0] == 1.0 and key_row[0, 7] == 1.0 and abs(key_row[0, 4] - 0.5) < 1e-6
    assert torch.equal(chord_row, values[1, :, 3:])  # a chord row keeps its chords
    assert torch.equal(out[0, :, 0], values[0, :, 0])
    assert torch.equal(key_chroma(values)[..., :3], values[..., :3])


def _batch(b: int, t: int) -> WindowBatch:
    g = torch.Generator().manual_seed(3)
    return WindowBatch(latents=torch.randn(b, t, 4, generator=g), controls=torch.rand(b, t, 15, generator=g),
                       text_ids=torch.zeros(b, dtype=torch.long))


class _Dit:
    class cfg:  # noqa: N801 — the attributes batch_conditions reads
        block_frames = 4
        clock_channels = 0
        frame_cond_channels = 19
        control_channels = 19
        accomp_channels = 0

    @staticmethod
    def encode_text(x):  # noqa: ANN001, ANN205
        return x


class _Bank:
    @staticmethod
    def condition(ids, null):  # noqa: ANN001, ANN205
        return ids


def test_key_rows_are_drawn_only_when_asked_and_only_where_pitch_is_given() -> None:
    batch = _batch(64, 8)
    plain = batch_conditions(_Dit(), batch, _Bank(), CondDropout(0.1, 0.5, 0.0), torch.Generator().manual_seed(1),
                             torch.device("cpu"))[1]
    again = batch_conditions(_Dit(), batch, _Bank(), CondDropout(0.1, 0.5, 0.0, p_control_key=0.0),
                             torch.Generator().manual_seed(1), torch.device("cpu"))[1]
    assert torch.equal(plain, again)  # p 0 draws nothing: older recipes keep their random stream
    keyed = batch_conditions(_Dit(), batch, _Bank(), CondDropout(0.1, 0.5, 0.0, p_control_key=1.0),
                             torch.Generator().manual_seed(1), torch.device("cpu"))[1]
    pitch_given = keyed[:, 0, 18] > 0
    flat = (keyed[:, :, 3:15] - keyed[:, :1, 3:15]).abs().amax(dim=(1, 2)) == 0
    assert bool(pitch_given.any()) and bool((~pitch_given).any())
    assert bool(flat[pitch_given].all())  # every pitch-given row became a key row
    assert torch.equal(keyed[~pitch_given], plain[~pitch_given])  # the rest untouched (no pitch shown)
    assert not bool(((plain[:, :, 3:15] - plain[:, :1, 3:15]).abs().amax(dim=(1, 2)) == 0)[pitch_given].any())
    assert torch.equal(keyed[pitch_given][..., :3], plain[pitch_given][..., :3])  # only the pitch bins change


def test_key_rows_carry_the_knobs_profile_of_the_labelled_key_where_there_is_one() -> None:
    """key_from_label: a key row shows exactly what the studio's key knob sends for the item's key (not the
    window's own chords, which hold the target's); rows without a labelled key keep the window's profile."""
    from lmd_studio.core.musical_key import parse_key
    from lmd_studio.training.batches import key_profile

    values = torch.rand(3, 8, 15, generator=torch.Generator().manual_seed(5))
    a_minor = torch.tensor(parse_key("A minor").chroma_profile())
    profiles = torch.stack([a_minor, torch.full((12,), float("nan")), a_minor])
    given = torch.ones(3, 4)
    key = torch.tensor([True, True, False])
    out = masked_controls(values, given, 4, key=key, key_profiles=profiles)
    assert torch.allclose(out[0, :, 3:15], a_minor.expand(8, 12))  # the knob's profile on every frame
    assert torch.allclose(out[1, :, 3:15], key_chroma(values)[1, :, 3:])  # no label: the window's profile
    assert torch.equal(out[2, :, 3:15], values[2, :, 3:])  # not a key row: its chords
    assert torch.equal(out[:, :, :3], values[:, :, :3])
    assert torch.equal(torch.from_numpy(key_profile("A minor")), a_minor.float())
    assert torch.isnan(torch.from_numpy(key_profile(None))).all() and torch.isnan(torch.from_numpy(key_profile("H"))).all()

    batch = WindowBatch(latents=torch.randn(3, 8, 4), controls=values, text_ids=torch.zeros(3, dtype=torch.long),
                        key_profile=profiles)
    assert batch.to("meta").key_profile.device.type == "meta"  # it travels with the controls it replaces
    assert torch.allclose(batch.rows(2).key_profile, profiles[:2], equal_nan=True)
    args = (_Dit(), batch, _Bank())
    labelled = batch_conditions(*args, CondDropout(0.0, 1.0, 0.0, p_control_key=1.0, key_from_label=True),
                                torch.Generator().manual_seed(1), torch.device("cpu"))[1]
    measured = batch_conditions(*args, CondDropout(0.0, 1.0, 0.0, p_control_key=1.0),
                                torch.Generator().manual_seed(1), torch.device("cpu"))[1]
    assert torch.allclose(labelled[0, :, 3:15], a_minor.expand(8, 12))
    assert torch.allclose(measured[0, :, 3:15], key_chroma(values)[0, :, 3:])  # the flag off: as before
    assert torch.equal(labelled[1], measured[1])


def test_batches_carry_the_labelled_key_of_score_and_mix_items(diffusion_tiny) -> None:
    from lmd_studio.data.corpus import Corpus
    from lmd_studio.training.batches import WindowSampler, key_profile
    from lmd_studio.training.latents import KEY_FROM_NOTES_KINDS, LatentSet
    from lmd_studio.training.text_bank import TextBank, make_text_encoder

    data = LatentSet.open(diffusion_tiny.latents, "train")
    manifest = {it.id: it for it in Corpus.open(diffusion_tiny.corpus).items()}
    for it in data.items:
        m = manifest[it.id]
        assert it.key == (m.key if m.kind in KEY_FROM_NOTES_KINDS and m.key else None), it.id
    assert any(it.key for it in data.items)
    bank = TextBank.build(data.descriptions, make_text_encoder("fake", 16, 8), 8)
    n = len(data.items)
    batch = WindowSampler(data, bank, 8, seed=0).fixed(n)  # every item once, in order
    assert batch.key_profile is not None and batch.key_profile.shape == (n, 12)
    for i, it in enumerate(data.items):
        expected = torch.from_numpy(key_profile(it.key))
        assert torch.allclose(batch.key_profile[i], expected, equal_nan=True), it.id


def test_label_keys_without_their_corpus_are_refused_by_name(diffusion_tiny, tmp_path) -> None:
    import json
    import shutil

    import pytest

    from lmd_studio.data.corpus import CorpusError
    from lmd_studio.training.recipe_common import stage_data
    from lmd_studio.training.stage_config import LmdmConfig
    from tests.training.diffusion_support import TINY_MODEL as model

    moved = tmp_path / "latents"
    shutil.copytree(diffusion_tiny.latents, moved)
    meta = json.loads((moved / "latents.json").read_text())
    meta["corpus"] = str(tmp_path / "gone")
    (moved / "latents.json").write_text(json.dumps(meta))
    cfg = LmdmConfig(text_encoder="fake", key_from_label=True, checkpoint_monitor="val_loss")
    with pytest.raises(CorpusError, match=r"no training item has a key from its notes .*gone.*key_from_label"):
        stage_data(moved, model, cfg, 12)
    assert stage_data(diffusion_tiny.latents, model, cfg, 12).train.data.items  # with its corpus: fine
