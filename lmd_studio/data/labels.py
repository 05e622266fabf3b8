"""Text descriptions and tags for corpus clips, phrased the way a musician would type a prompt.

Each description is drawn from a few templates with the job's random generator (so a rebuild yields the same
text) and always states what is certain: style/genre, instruments, tempo word, BPM and key where known.
Tags are facets → values: genre, instrument, tempo, key, texture.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.data.drum_kits import KIT_PHRASES
from lmd_studio.data.drum_patterns import DrumPattern
from lmd_studio.data.gm import Palette, Style


def tempo_word(bpm: float) -> str:
    if bpm < 70:
        return "slow"
    if bpm < 95:
        return "relaxed"
    if bpm < 120:
        return "upbeat"
    if bpm < 145:
        return "lively"
    return "fast"


def _a(word: str) -> str:
    """'a' or 'an' before a word (by its spelling, which is right for our vocabulary)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _tags(genre: list[str], instruments: list[str], bpm: float | None, key: str | None, texture: str) -> dict:
    tags = {"genre": sorted(set(genre)), "instrument": list(dict.fromkeys(instruments)), "texture": [texture]}
    if bpm is not None:
        tags["tempo"] = [tempo_word(bpm), f"{round(bpm)} bpm"]
    if key:
        tags["key"] = [key]
    return tags


def describe_score(style: Style, palette: Palette, roles: tuple[str, ...], beat_bpm: float, key: str | None,
                   rng: np.random.Generator) -> tuple[str, dict]:
    bpm = round(beat_bpm)
    tw = tempo_word(beat_bpm)
    instruments = palette.instruments(list(roles))
    named = f"{style.composer} {style.name}" if style.composer else style.name
    in_key = f" in {key}" if key else ""
    played = f"played {palette.phrase}" if palette.phrase.startswith(("on ", "by ")) else palette.phrase
    options = [
        f"{tw} {style.name} {palette.phrase}",
        f"{named} {palette.phrase}, {bpm} bpm{in_key}",
        f"{tw} {style.name} {played}{in_key}",
        f"{' and '.join(instruments)} playing {_a(tw)} {tw} {style.name}, {bpm} bpm",
    ]
    texture = "solo line" if len(roles) == 1 else "ensemble"
    return _pick(rng, options), _tags(list(style.genre_tags), instruments, beat_bpm, key, texture)


def describe_drums(pattern: DrumPattern, kit_name: str, kit_kind: str, bpm: float,
                   rng: np.random.Generator) -> tuple[str, dict]:
    adjectives = {"electronic": ["punchy", "crunchy", "hard-hitting", "lo-fi"],
                  "acoustic": ["tight", "live", "crisp", "roomy"], "hand": ["organic", "earthy", "lively"]}[kit_kind]
    kit_words = "808 drum machine" if kit_name == "sonic-pi-808" else KIT_PHRASES[kit_kind]
    adj = _pick(rng, adjectives)
    b = round(bpm)
    short = "808" if kit_name == "sonic-pi-808" else adj
    options = [
        f"{adj} {pattern.phrase} on {kit_words}, {b} bpm",
        f"{short} {pattern.genre} beat, {b} bpm",
        f"{tempo_word(bpm)} {pattern.phrase}, {kit_words}",
        f"{pattern.genre} drums only, {b} bpm, {adj} {kit_words}",
    ]
    instruments = ["drums", kit_words] + (["808"] if kit_name == "sonic-pi-808" else [])
    return _pick(rng, options), _tags([pattern.genre, *pattern.tags], instruments, bpm, None, "drums")


_SAMPLE_PHRASES = {
    "ambi": "ambient texture", "bass": "synth bass hit", "bd": "kick drum hit", "drum": "acoustic drum hit",
    "elec": "electronic sound", "glitch": "glitchy electronic sound", "guit": "electric guitar", "loop": "loop",
    "mehackit": "robotic electronic sound", "misc": "sound effect", "perc": "percussion hit", "sn": "snare hit",
    "tabla": "tabla stroke", "vinyl": "vinyl record effect",
}
_SAMPLE_OVERRIDES = {
    "ambi_choir": "ambient choir pad", "ambi_drone": "ambient drone pad", "ambi_piano": "ambient piano phrase",
    "ambi_dark_woosh": "dark ambient whoosh", "ambi_lunar_land": "spacey lunar ambience",
    "ambi_glass_hum": "glassy ambient hum", "ambi_haunted_hum": "haunted ambient hum",
    "loop_amen": "amen break drum loop", "loop_amen_full": "full amen break drum loop",
    "loop_breakbeat": "breakbeat drum loop", "loop_compus": "electronic percussion loop",
    "loop_drone_g_97": "droning loop in G, 97 bpm", "loop_industrial": "industrial drum loop",
    "loop_tabla": "tabla drum loop", "loop_safari": "safari percussion loop", "loop_perc1": "percussion loop",
    "loop_perc2": "percussion loop", "loop_mehackit1": "electronic beat loop", "loop_mehackit2": "electronic beat loop",
    "loop_weirdo": "weird electronic loop", "loop_3d_printer": "3D printer noise loop",
    "loop_garzul": "electronic groove loop", "loop_mika": "electronic groove loop", "loop_electric": "electric loop",
    "guit_em9": "electric guitar E minor 9 chord", "guit_e_fifths": "electric guitar power fifths",
    "guit_e_slide": "electric guitar slide", "guit_harmonics": "guitar harmonics", "bd_808": "808 kick drum",
    "misc_cineboom": "cinematic boom", "misc_crow": "crow call", "misc_burp": "burp sound effect",
    "vinyl_scratch": "vinyl scratch", "vinyl_hiss": "vinyl crackle and hiss", "bass_dnb_f": "drum & bass bass hit",
    "bass_trance_c": "trance bass stab", "bass_voxy_c": "vocal-like synth bass",
}
_SAMPLE_GENRES = {"ambi": ["ambient"], "bass": ["electronic"], "bd": ["electronic"], "elec": ["electronic"],
                  "glitch": ["glitch", "electronic"], "loop": ["loop"], "tabla": ["indian", "percussion"],
                  "drum": ["drums"], "sn": ["drums"], "perc": ["percussion"], "guit": ["guitar"]}


def _sample_phrase(name: str, category: str) -> str:
    if name in _SAMPLE_OVERRIDES:
        return _SAMPLE_OVERRIDES[name]
    words = [w.rstrip("0123456789") for w in name.split("_")[1:]]
    note = ""
    if category == "bass" and len(words[-1]) == 1:  # sonic-pi bass samples end in their note name
        note = f" in {words.pop().upper()}"
    words = [{"lo": "low", "hi": "high", "bass": "bass drum", "cymbal": "cymbal"}.get(w, w) for w in words]
    front = [w for w in words if w in ("soft", "hard", "open", "closed")]  # adjectives read better first
    rest = [w for w in words if w not in front and w]
    return " ".join(front + rest + [_SAMPLE_PHRASES.get(category, "sound")]) + note


def describe_sample(name: str, category: str, duration_s: float, bpm: float | None,
                    rng: np.random.Generator) -> tuple[str, dict]:
    phrase = _sample_phrase(name, category)
    is_loop = category == "loop"
    options = [phrase, f"{phrase}, {'loop' if is_loop else 'one-shot'}"]
    if bpm is not None:
        options.append(f"{phrase}, {round(bpm)} bpm")
    texture = "loop" if is_loop else ("texture" if category == "ambi" else "one-shot")
    instrument = {"guit": "electric guitar", "tabla": "tabla", "bass": "synth bass", "bd": "kick drum",
                  "sn": "snare", "drum": "drums"}.get(category, phrase.split(",")[0])
    return _pick(rng, options), _tags(_SAMPLE_GENRES.get(category, ["sound design"]), [instrument], bpm, None, texture)


def describe_mix(pattern: DrumPattern, palette: Palette, style: Style, kit_kind: str, bpm: float, key: str | None,
                 roles: tuple[str, ...], rng: np.random.Generator) -> tuple[str, dict]:
    b = round(bpm)
    in_key = f" in {key}" if key else ""
    instruments = ["drums", *palette.instruments(list(roles))]
    options = [
        f"{tempo_word(bpm)} {pattern.genre} band {palette.phrase}, {b} bpm{in_key}",
        f"full band: {pattern.phrase} {palette.phrase}, {b} bpm",
        f"{pattern.genre} arrangement of {_a(style.name)} {style.name} {palette.phrase}, {b} bpm",
        f"{pattern.phrase} under {' and '.join(instruments[1:])}{in_key}",
    ]
    genre = [pattern.genre, *pattern.tags, "full band"]
    return _pick(rng, options), _tags(genre, instruments + [KIT_PHRASES[kit_kind]], bpm, key, "full band")



def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def describe_produced(phrases: tuple[str, ...], genre: tuple[str, ...], instruments: tuple[str, ...],
                      moods: tuple[str, ...], instrumental: bool, texture: str, bpm: float | None,
                      exact_tempo: bool, rng: np.random.Generator) -> tuple[str, dict]:
    """A real recording: the package's own words, the mood its title names, and a tempo only when it is
    known — exact from the song's chart ("140 bpm") or estimated with the detector's agreement ("~140 bpm")."""
    phrase = _pick(rng, list(phrases))
    if instrumental and "instrumental" not in phrase:
        phrase = f"instrumental {phrase}"
    mood = f", {moods[0]}" if moods else ""
    b = "" if bpm is None else f", {round(bpm)} bpm" if exact_tempo else f", ~{round(bpm)} bpm"
    options = [f"{phrase}{mood}{b}"]
    if bpm is not None:
        options.append(f"{tempo_word(bpm)} {phrase}{mood}{b}")
    if instruments:
        options.append(f"{phrase} with {_and(list(instruments))}{mood}{b}")
    tags = _tags(list(genre), list(instruments), bpm, None, texture)
    if bpm is not None and not exact_tempo:
        tags["tempo"] = [tempo_word(bpm), f"~{round(bpm)} bpm"]
    if moods:
        tags["mood"] = list(moods)
    return _pick(rng, options), tags
