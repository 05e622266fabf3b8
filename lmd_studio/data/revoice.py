"""Re-voiced renders for generative-delay training: the same notes (and drum hits), other instruments.

A score or mix item can carry a `REVOICED_STEM`: its notes rendered again with another palette (and, for
mixes, its identical drum hits played on another kit of the same kind). Training pairs it with the clip as
stored: partner = the re-voiced render, target = the clip. Its choices come from their own generator
(`revoice_rng`), never from the render's, so adding it leaves every stored mix and part stem bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from lmd_studio.data.drum_kits import DrumKit
from lmd_studio.data.gm import PALETTES, Palette

REVOICED_STEM = "revoiced"
_STREAM = 0x7265766F  # "revo": the re-voice generator's stream next to the job's seed
PEAK_CEILING = 0.95  # the mix's own ceiling (renders._level_gain); a re-voice may peak higher at the same gain


def revoice_rng(job_seed: int) -> np.random.Generator:
    """The re-voice choices' generator: derived from the job's seed, independent of the render's stream."""
    return np.random.default_rng([job_seed, _STREAM])


def programs_of(palette: Palette, roles: Sequence[str]) -> list[int]:
    return [palette.program_for(r)[0] for r in roles]


def choose_palette(original: Palette, roles: Sequence[str], preferred: Sequence[str], fallback: Sequence[str],
                   rng: np.random.Generator) -> Palette:
    """Another palette for the same parts. In order of preference: one of `preferred` (the style's own) giving
    every part another program, one of `preferred` with other programs at all, then the same two from
    `fallback`; the same programs again only when no palette offers others."""
    mine = programs_of(original, roles)
    names = [n for n in dict.fromkeys([*preferred, *fallback]) if n != original.name]
    pool = [PALETTES[n] for n in names]
    if not pool:
        raise ValueError(f"no palette other than {original.name} to re-voice with")

    def every_part_changes(p: Palette) -> bool:
        return all(a != b for a, b in zip(programs_of(p, roles), mine, strict=True))

    def any_part_changes(p: Palette) -> bool:
        return programs_of(p, roles) != mine

    in_style = [p for p in pool if p.name in preferred]
    tiers = ([p for p in in_style if every_part_changes(p)], [p for p in in_style if any_part_changes(p)],
             [p for p in pool if every_part_changes(p)], [p for p in pool if any_part_changes(p)], pool)
    chosen = next(t for t in tiers if t)
    return chosen[int(rng.integers(len(chosen)))]


def choose_kit(kit: DrumKit, roles_needed: set[str], candidates: Iterable[DrumKit],
               rng: np.random.Generator) -> DrumKit:
    """Another kit of the same kind that has every role the hits use (and is licensed at least as freely:
    no non-commercial sound in a commercial item); `kit` itself when there is none."""
    others = sorted((c for c in candidates if c.ref.name != kit.ref.name and c.kind == kit.kind
                     and roles_needed <= c.roles
                     and (c.ref.licence.commercial_ok or not kit.ref.licence.commercial_ok)),
                    key=lambda c: c.ref.name)
    return others[int(rng.integers(len(others)))] if others else kit


def fit_peak(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """`audio` lowered to PEAK_CEILING when it peaks above it (a 16-bit file must not clip), and the gain
    applied in dB (0.0 when untouched)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= PEAK_CEILING:
        return audio, 0.0
    gain = PEAK_CEILING / peak
    return (audio * gain).astype(np.float32), round(20.0 * float(np.log10(gain)), 2)
