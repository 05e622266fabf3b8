"""Keys from an excerpt's own notes, and the in-place relabel pass a build ends with."""

import numpy as np
import pytest

from lmd_studio.core.musical_key import Key, parse_key
from lmd_studio.data.excerpt_key import excerpt_key, key_label, pitch_class_weights
from lmd_studio.data.manifest import ManifestItem, append_item, read_manifest
from lmd_studio.data.relabel import relabel_keys


def _notes(pitches_and_seconds):
    """Rows (onset_s, offset_s, pitch, velocity), played one after another."""
    rows, t = [], 0.0
    for pitch, dur in pitches_and_seconds:
        rows.append((t, t + dur, pitch, 90.0))
        t += dur
    return np.array(rows, dtype=np.float32)


# G major: G B D tonic triad stressed, F# (not F) present, a full G major scale
G_MAJOR = _notes([(67, 2.0), (71, 1.5), (74, 1.5), (66, 0.5), (69, 0.5), (72, 0.5), (64, 0.5), (60, 0.4), (62, 1.0),
                  (55, 2.0), (59, 1.0), (62, 1.0)])


def test_every_label_reads_back_to_its_key():
    for tonic in range(12):
        for minor in (False, True):
            assert parse_key(key_label(Key(tonic, minor))) == Key(tonic, minor)
    assert key_label(Key(10, False)) == "Bb major" and key_label(Key(1, True)) == "C# minor"


def test_pitch_class_weights_are_seconds_per_class():
    w = pitch_class_weights(_notes([(60, 1.0), (72, 0.5), (67, 0.25)]))
    assert w[0] == pytest.approx(1.5) and w[7] == pytest.approx(0.25) and w.sum() == pytest.approx(1.75)


def test_an_excerpt_in_the_dominant_is_relabelled():
    assert excerpt_key(G_MAJOR, "C major") == "G major"


def test_the_piece_key_is_kept_on_a_near_tie_and_when_the_notes_cannot_decide():
    assert excerpt_key(G_MAJOR, "G major") == "G major"
    # E minor is G major's relative: within the margin on these notes? Compute, don't guess: with a margin of
    # 1.0 every labelled key is kept, with 0 only the best key survives.
    assert excerpt_key(G_MAJOR, "E minor", keep_margin=1.0) == "E minor"
    assert excerpt_key(G_MAJOR, "E minor", keep_margin=0.0) == "G major"
    assert excerpt_key(np.zeros((0, 4), np.float32), "D minor") == "D minor"
    assert excerpt_key(G_MAJOR, "D dorian") == "D dorian"
    assert excerpt_key(G_MAJOR, None) == "G major"


def _item(root, item_id, key, notes, split="train"):
    feats = root / "audio" / f"{item_id}.npz"
    feats.parent.mkdir(parents=True, exist_ok=True)
    np.savez(feats, notes=notes)
    return ManifestItem(
        id=item_id, kind="score", split=split, audio=f"audio/{item_id}.flac", features=f"audio/{item_id}.npz",
        sample_rate_hz=44100, channels=1, num_frames=44100 * 12, duration_s=12.0, feature_frames=258,
        feature_rate_hz=21.533203125, description=f"slow chorale sung by a choir in {key}",
        tags={"genre": ["chorale"], "key": [key]}, licences=["MIT"], commercial_ok=True, sources=["s"],
        groups=["s"], bpm=70.0, key=key, has_notes=True)


def test_relabel_rewrites_manifest_and_latent_descriptions_once(tmp_path):
    append_item(tmp_path / "manifest.jsonl", _item(tmp_path, "a", "C major", G_MAJOR))
    append_item(tmp_path / "manifest.jsonl", _item(tmp_path, "b", "G major", G_MAJOR))
    shard = tmp_path / "latents-x" / "train" / "a.npz"
    shard.parent.mkdir(parents=True)
    np.savez(shard, latents=np.ones((4, 2), np.float32), description=np.array("slow chorale sung by a choir in C major"))

    report = relabel_keys(tmp_path)
    assert (report.checked, report.changed, report.latents_rewritten) == (2, 1, 1)
    a, b = read_manifest(tmp_path / "manifest.jsonl")
    assert a.key == "G major" and a.description == "slow chorale sung by a choir in G major"
    assert a.tags["key"] == ["G major"] and a.render["piece_key"] == "C major"
    assert b.key == "G major" and "piece_key" not in b.render
    with np.load(shard) as z:
        assert str(z["description"]) == a.description and z["latents"].sum() == 8

    again = relabel_keys(tmp_path)
    assert again.changed == 0 and again.latents_rewritten == 0


def test_a_backfill_rerender_must_be_the_same_music():
    from lmd_studio.data.worker import same_music

    rng = np.random.default_rng(0)
    env = np.repeat(rng.uniform(0.05, 1.0, 40), 2048)
    stored = (rng.standard_normal(env.size) * env * 0.1).astype(np.float32)
    shifted = np.roll(stored, 40)  # FluidSynth block-grid jitter: same music, other samples
    assert same_music(stored, shifted) is None
    assert "frames" in same_music(stored, stored[:-10])
    assert "level" in same_music(stored, stored * 0.5)
    other = (rng.standard_normal(env.size) * env[::-1] * 0.1).astype(np.float32)
    assert "envelope" in same_music(stored, other)
