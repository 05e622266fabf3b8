"""The key an excerpt is heard in, from its own notes.

A score's key comes from music21's analysis of the whole piece, but a 12-s excerpt of a chorale or a
sonata often sits in another key (a modulation, the relative minor, the dominant). On the full corpus only
40 % of score/mix excerpts had the piece key as the best Krumhansl–Kessler match of their own notes, so the
prompts taught the model the wrong key words and `key_accuracy_real` could not rise above chance.

Rule: duration-weighted pitch-class histogram of the excerpt's notes → the 24 key correlations
(`dsp.tonality.key_scores`, the same profiles the evaluation's audio detector uses). The piece key is kept
when it scores within `KEEP_MARGIN` of the best (music21 breaks near-ties with more of the piece than we
see); otherwise the best key wins.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.core.musical_key import Key, parse_key
from lmd_studio.dsp.tonality import key_scores

KEEP_MARGIN = 0.05  # correlation units; near-ties between a key and its relative/dominant are common
# spelling the corpus uses (music21 names with "b" for flats): the usual signature for each tonic
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def key_label(key: Key) -> str:
    """'Bb major', 'C# minor': the corpus's spelling (parse_key reads it back to the same Key)."""
    return f"{(_MINOR_NAMES if key.minor else _MAJOR_NAMES)[key.tonic]} {'minor' if key.minor else 'major'}"


def pitch_class_weights(notes: np.ndarray) -> np.ndarray:
    """[12] seconds sounding per pitch class; `notes` rows are (onset_s, offset_s, midi_pitch, …)."""
    notes = np.asarray(notes, dtype=np.float64)
    weights = np.zeros(12)
    if notes.size == 0:
        return weights
    durations_s = np.clip(notes[:, 1] - notes[:, 0], 0.0, None)
    np.add.at(weights, np.round(notes[:, 2]).astype(int) % 12, durations_s)
    return weights


def excerpt_key(notes: np.ndarray, piece_key: str | None, keep_margin: float = KEEP_MARGIN) -> str | None:
    """The excerpt's key label, or `piece_key` unchanged when the notes cannot decide (none, or a mode the
    major/minor profiles do not cover, e.g. "D dorian")."""
    weights = pitch_class_weights(notes)
    if weights.sum() <= 0:
        return piece_key
    scores = key_scores(weights)
    best = int(np.argmax(scores))
    if piece_key is not None:
        try:
            labelled = parse_key(piece_key)
        except ValueError:
            return piece_key
        if not piece_key.strip().lower().endswith(("major", "minor")):
            return piece_key
        if scores[12 * labelled.minor + labelled.tonic] >= scores[best] - keep_margin:
            return piece_key
    return key_label(Key(best % 12, best >= 12))
