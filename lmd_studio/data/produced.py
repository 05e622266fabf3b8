"""Real produced music from Debian game-music packages: which tracks there are, their licences, their clips.

Beside the score renders and drum kits, whole mixed and mastered recordings: The Battle for Wesnoth's
orchestral soundtrack, HyperRogue's and Drascula's game music, and the Frets on Fire song packs (rock
songs as a backing stem plus a guitar stem, played together here, with a notes.mid chart whose tempo map is
the song's exact grid). Each track is cut into consecutive clips of the build's clip length — starting on
bar lines where the grid is known — and a clip's split is its track's (a track is one split group; versions
of one composition share a group), so no recording is heard in two splits.

Licences come from each package's copyright file: per file where it is machine-readable (DEP-5), else the
licence its prose states, checked against the words that must be in it; a file that says something else
gives LicenseRef-unknown (not commercial-OK, left out by default). A package that is not installed is simply
absent; `missing_packages` names it for the build log.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.data.debian_copyright import CopyrightFile, read_copyright
from lmd_studio.data.licences import CC_BY_SA_3, DEP5_LICENCES, GPL2_PLUS_RECORDING, MIT, UNKNOWN, Licence
from lmd_studio.data.midi_tempo import MidiTimingError, read_track_grid
from lmd_studio.data.splits import stable_hash

AUDIO_SUFFIXES = (".ogg", ".oga", ".mp3", ".flac", ".wav")
SONG_STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg")  # Frets on Fire: played together they are the song


@dataclass(frozen=True, slots=True)
class ProducedPackage:
    name: str  # the Debian package
    music_dir: str  # relative to the file-system root
    layout: str  # "files": one audio file a track; "songs": one folder a track (Frets on Fire)
    family: str  # split stratum and broad style (non-commercial packages alone in theirs, so that
    #               --include-noncommercial moves no other track between splits)
    genre: tuple[str, ...]
    phrases: tuple[str, ...]  # what the music is, in a musician's words (descriptions pick one)
    instruments: tuple[str, ...]  # only what is certain for every track ("" when nobody said)
    instrumental: bool  # only when no track of the package has singing
    texture: str  # the texture tag: "ensemble", "full band", "full mix"
    licence: Licence | None = None  # free-form copyright file: the licence it states...
    licence_says: str = ""  # ...and the words (a regex) that must be in it for that to hold
    dep5_prefix: str = ""  # machine-readable file: where music_dir's files live in its Files: patterns
    credit: str = ""  # attribution for model cards

    def __post_init__(self) -> None:
        if self.layout not in ("files", "songs"):
            raise ValueError(f"{self.name}: layout must be 'files' or 'songs', got {self.layout!r}")
        if (self.licence is None) == (not self.dep5_prefix):
            raise ValueError(f"{self.name}: give either a stated licence or a DEP-5 prefix")


PACKAGES: tuple[ProducedPackage, ...] = (
    ProducedPackage(
        "wesnoth-1.16-music", "usr/share/games/wesnoth/1.16/data/core/music", "files", "orchestral",
        ("orchestral", "soundtrack", "fantasy"),
        ("orchestral fantasy game soundtrack", "cinematic orchestral score", "epic orchestral game music"),
        ("orchestra",), instrumental=False, texture="ensemble", licence=GPL2_PLUS_RECORDING,
        licence_says=r"GNU General Public License version 2 or at your option any later version",
        credit="The Battle for Wesnoth soundtrack (Wesnoth contributors), GPL-2.0-or-later"),
    ProducedPackage(
        "fretsonfire-songs-muldjord", "usr/share/games/fretsonfire/data/songs/muldjord", "songs", "rock",
        ("metal", "rock"), ("heavy metal song", "metal track with distorted guitars", "heavy metal"),
        ("electric guitar", "bass", "drums"), instrumental=False, texture="full band", licence=CC_BY_SA_3,
        licence_says=r"Creative Commons Attribution ShareAlike licence 3\.0",
        credit="Muldjord (El Senator), CC-BY-SA-3.0"),
    ProducedPackage(
        "fretsonfire-songs-sectoid", "usr/share/games/fretsonfire/data/songs/sectoid", "songs", "rock",
        ("rock", "metal"), ("guitar-driven rock song", "hard rock track", "electric guitar rock"),
        ("electric guitar", "bass", "drums"), instrumental=False, texture="full band", licence=MIT,
        licence_says=r"Permission is hereby granted, free of charge, to any person",
        credit="Sectoid (Carlos Viola Iborra), MIT"),
    ProducedPackage(
        "hyperrogue-music", "usr/share/hyperrogue/music", "files", "game",
        ("soundtrack", "game music"), ("instrumental game soundtrack", "instrumental video game music"),
        (), instrumental=True, texture="full mix", dep5_prefix="music/",
        credit="HyperRogue soundtrack by Shawn Parrotte, Will Savino and Lincoln Domina, CC-BY-SA-3.0"),
    ProducedPackage(
        "drascula-music", "usr/share/scummvm/drascula/audio", "files", "adventure",
        ("soundtrack", "game music", "adventure"),
        ("instrumental adventure game soundtrack", "instrumental point-and-click adventure game music"),
        (), instrumental=True, texture="full mix", dep5_prefix="audio/",
        credit="Drascula: The Vampire Strikes Back music (Alcachofa Soft S.L.), Drascula licence"),
)
PACKAGE_BY_NAME = {p.name: p for p in PACKAGES}

# versions of one composition: one split group (package → {file stem: group stem})
SAME_WORK: dict[str, dict[str, str]] = {
    "wesnoth-1.16-music": {"frantic-old": "frantic"},
}
# words a track's own title gives (Wesnoth names its cues by mood)
TITLE_MOODS = {"battle": "battle music", "sad": "sad", "suspense": "suspenseful", "victory": "victory fanfare",
               "defeat": "defeat cue", "love": "love theme"}


@dataclass(frozen=True, slots=True)
class TrackRef:
    key: str  # "<package>/<track>", stable across machines
    package: str
    title: str
    stems: tuple[Path, ...]  # audio files played together
    duration_s: float
    licence: Licence
    group: str  # split group id
    grid_path: Path | None = None  # a MIDI file holding the recording's tempo map (notes.mid)
    note: str = ""  # why a chart's grid is not used, when it is not

    @property
    def source_id(self) -> str:
        return f"produced:{self.key}"

    @property
    def info(self) -> ProducedPackage:
        return PACKAGE_BY_NAME[self.package]

    @property
    def moods(self) -> tuple[str, ...]:
        words = [w.rstrip("0123456789") for w in re.split(r"[_\-\s]+", self.title.lower())]
        return tuple(mood for word, mood in TITLE_MOODS.items() if word in words)


def _licence_of(pkg: ProducedPackage, copyright: CopyrightFile | None, file_name: str) -> Licence:
    if copyright is None:
        return Licence(UNKNOWN.spdx, False, f"{pkg.name} has no copyright file")
    if pkg.licence is not None:
        return pkg.licence if copyright.mentions(pkg.licence_says) else UNKNOWN
    para = copyright.licence_of(pkg.dep5_prefix + file_name)
    if para is None:
        return UNKNOWN
    return DEP5_LICENCES.get(para.licence, Licence(UNKNOWN.spdx, False, f"licence {para.licence!r} not known"))


def _duration_s(path: Path) -> float:
    try:
        return float(sf.info(str(path)).duration)
    except Exception:  # unreadable: no clips (the file is left out, not the build)
        return 0.0


def _song_ini(folder: Path) -> tuple[str, float]:
    """(title, chart delay in ms) from a Frets on Fire song.ini; the folder name when there is none."""
    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read(folder / "song.ini", encoding="utf-8")
        title = ini.get("song", "name", fallback=folder.name).strip() or folder.name
        delay = float(ini.get("song", "delay", fallback="0") or 0)
    except (configparser.Error, ValueError, UnicodeDecodeError):
        return folder.name, 0.0
    return title, delay


def _package_tracks(pkg: ProducedPackage, root: Path) -> list[TrackRef]:
    music = root / pkg.music_dir
    copyright = read_copyright(root / "usr/share/doc", pkg.name)
    same = SAME_WORK.get(pkg.name, {})
    out = []
    if pkg.layout == "files":
        for f in sorted(music.iterdir()):
            if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file():
                key = f"{pkg.name}/{f.stem}"
                out.append(TrackRef(key, pkg.name, f.stem.replace("_", " ").replace("-", " "), (f,), _duration_s(f),
                                    _licence_of(pkg, copyright, f.name),
                                    f"produced:{pkg.name}/{same.get(f.stem, f.stem)}"))
        return out
    for d in sorted(p for p in music.iterdir() if p.is_dir()):
        stems = tuple(d / name for name in SONG_STEMS if (d / name).is_file())
        if not stems or stems[0].name != "song.ogg":
            continue
        title, delay_ms = _song_ini(d)
        grid = d / "notes.mid" if (d / "notes.mid").is_file() else None
        note = ""
        if grid is not None and delay_ms:
            grid, note = None, f"song.ini delays the chart by {delay_ms:g} ms: its grid is not the audio's"
        key = f"{pkg.name}/{d.name}"
        out.append(TrackRef(key, pkg.name, title, stems, min(_duration_s(s) for s in stems),
                            _licence_of(pkg, copyright, f"{d.name}/song.ogg"), f"produced:{key}", grid, note))
    return out


def produced_tracks(root: Path = Path("/")) -> list[TrackRef]:
    """Every track of every installed package, sorted by key (all licences: the caller filters)."""
    out: list[TrackRef] = []
    for pkg in PACKAGES:
        if (root / pkg.music_dir).is_dir():
            out.extend(_package_tracks(pkg, root))
    return sorted(out, key=lambda t: t.key)


def missing_packages(root: Path = Path("/")) -> list[str]:
    return [p.name for p in PACKAGES if not (root / p.music_dir).is_dir()]


def clip_starts_s(track: TrackRef, clip_s: float) -> tuple[list[float], bool]:
    """(start of every whole clip in the track, whether they follow the track's exact grid).

    With a grid: each clip starts on the first bar line at or after the end of the one before (gaps under a
    bar, no overlaps), so a clip's grid starts on beat 1. Without: back to back from 0. A chart the reader
    rejects means no grid (the clips are then estimated, like any other recording)."""
    downbeats = None
    if track.grid_path is not None:
        try:
            grid = read_track_grid(track.grid_path)
        except MidiTimingError:
            grid = None
        if grid is not None:
            downbeats = grid.downbeats_s(track.duration_s)
    if downbeats is None:
        return [k * clip_s for k in range(int(track.duration_s // clip_s))], False
    starts: list[float] = []
    t = 0.0
    while True:
        later = downbeats[downbeats >= t - 1e-6]
        if not later.size or later[0] + clip_s > track.duration_s:
            return starts, True
        starts.append(round(float(later[0]), 6))
        t = starts[-1] + clip_s


@dataclass(frozen=True, slots=True)
class ClipPlan:
    track: TrackRef
    index: int  # clip number within the track
    start_s: float
    exact_grid: bool


def plan_clips(tracks: list[TrackRef], clip_s: float, budget_s: float, seed: int) -> list[ClipPlan]:
    """Every clip when they fit in `budget_s`; else tracks take turns (in a seeded order, each in a seeded
    order of its clips) until the budget is spent, so every track is heard. Sorted by track and clip."""
    per_track = []
    for t in tracks:
        starts, exact = clip_starts_s(t, clip_s)
        clips = [ClipPlan(t, i, s, exact) for i, s in enumerate(starts)]
        rng = np.random.default_rng(stable_hash(seed, "produced", t.key))
        per_track.append([clips[i] for i in rng.permutation(len(clips))])
    everything = [c for clips in per_track for c in clips]
    if len(everything) * clip_s > budget_s:
        order = sorted(range(len(per_track)), key=lambda i: stable_hash(seed, "produced-order", tracks[i].key))
        everything = []
        for depth in range(max((len(c) for c in per_track), default=0)):
            for i in order:
                if depth < len(per_track[i]) and (len(everything) + 1) * clip_s <= budget_s:
                    everything.append(per_track[i][depth])
    return sorted(everything, key=lambda c: (c.track.key, c.index))
