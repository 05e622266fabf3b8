"""Prompt suggestions: the model's own training vocabulary when it offers one, else a starter list."""

from __future__ import annotations

from collections.abc import Iterable

# Words and phrases a first-time player can try; the trained model replaces them with the captions and
# tags it was trained on (`prompt_vocabulary`).
STARTER_PROMPTS: tuple[str, ...] = (
    "warm lo-fi piano chords with soft drums", "ambient pads, slow and wide", "deep house groove, 124 bpm",
    "bach chorale, organ", "string quartet, gentle", "tabla and drone", "breakbeat drums, dusty",
    "plucked bass line", "bright electric piano", "dark techno, rolling bass", "choir, sustained",
    "jazz trio brushes", "music box melody", "glitchy percussion", "acoustic guitar fingerpicking",
    "cinematic brass swell", "minimal marimba pattern", "dub chords with delay", "slow blues guitar",
    "solo cello", "harpsichord baroque", "808 kick and hats", "folk fiddle tune", "synth arpeggio",
)


def prompt_suggestions(generator: object, history: Iterable[str], limit: int = 400) -> list[str]:
    """History first (the player's own words), then the model's vocabulary, without duplicates."""
    vocab = getattr(generator, "prompt_vocabulary", None)
    try:
        words = list(vocab() if callable(vocab) else vocab) if vocab is not None else []
    except Exception:  # noqa: BLE001 — suggestions are a nicety; a model bug must not stop the app
        words = []
    if not words:
        words = list(STARTER_PROMPTS)
    out: list[str] = []
    seen: set[str] = set()
    for text in [*history, *words]:
        key = str(text).strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(str(text).strip())
        if len(out) >= limit:
            break
    return out
