"""Where the corpus's raw material lives, and the catalogue of what is there.

Everything comes from Debian packages and the music21 wheel (see ENVIRONMENT.md). A missing package is
reported with its name and the apt line; a single unreadable file is not an error here (the worker that
touches it skips it and the build report names it).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lmd_studio.data.licences import (
    HYDROGEN_KIT_LICENCES,
    SONIC_PI_LICENCE,
    Licence,
    classify_encoding_text,
    music21_folder_licence,
)

SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc")


class MissingSourceError(RuntimeError):
    """A Debian package (or the music21 corpus) the build needs is not installed."""


@dataclass(frozen=True, slots=True)
class SourcePaths:
    sonic_pi_dir: Path = Path("/usr/share/sonic-pi/samples")
    hydrogen_dir: Path = Path("/usr/share/hydrogen/data/drumkits")
    sf2_path: Path = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    sf3_path: Path = Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3")
    music21_dir: Path | None = None  # None: the installed music21 package's corpus folder
    produced_root: Path = Path("/")  # where the produced-music packages are installed (data/produced.py)

    def music21_corpus(self) -> Path:
        if self.music21_dir is not None:
            return Path(self.music21_dir)
        import music21

        return Path(os.path.dirname(music21.__file__)) / "corpus"


# what → (Debian package, apt line); the soundfont paths are the packages' own
_PACKAGES = {
    "sonic_pi_dir": ("sonic-pi-samples", "sonic-pi samples"),
    "hydrogen_dir": ("hydrogen-drumkits", "Hydrogen drum kits"),
    "sf2_path": ("fluid-soundfont-gm", "FluidR3_GM soundfont"),
    "sf3_path": ("musescore-general-soundfont", "MuseScore General soundfont"),
}


def check_sources(paths: SourcePaths) -> None:
    """Raise MissingSourceError naming every missing package and the command that installs it."""
    missing = []
    for attr, (package, what) in _PACKAGES.items():
        p = Path(getattr(paths, attr))
        if not p.exists():
            missing.append(f"{what} not found at {p}: Debian package '{package}'")
    if not missing:
        try:
            import fluidsynth  # noqa: F401  (pyfluidsynth; loads libfluidsynth)
        except (ImportError, OSError) as exc:
            missing.append(f"FluidSynth library not loadable ({exc}): Debian package 'libfluidsynth3' "
                           "(and `pip install pyfluidsynth`)")
    try:
        corpus = paths.music21_corpus()
        if not corpus.is_dir():
            missing.append(f"music21 corpus not found at {corpus}: reinstall the music21 wheel")
    except ImportError:
        missing.append("music21 is not installed: `pip install music21`")
    if missing:
        packages = [m.split("Debian package '")[1].split("'")[0] for m in missing if "Debian package" in m]
        hint = f"\ninstall with: sudo apt-get install {' '.join(packages)}" if packages else ""
        raise MissingSourceError("corpus sources missing:\n  " + "\n  ".join(missing) + hint)


@dataclass(frozen=True, slots=True)
class PieceRef:
    """One score file of the music21 corpus (an ABC file may hold several tunes)."""

    key: str  # "folder/relative/path.ext", stable across machines
    path: Path
    folder: str
    licence: Licence

    @property
    def source_id(self) -> str:
        return f"music21:{self.key}"


@dataclass(frozen=True, slots=True)
class SampleRef:
    name: str  # file stem, e.g. "loop_amen"
    path: Path
    category: str  # prefix before the first underscore: ambi, bass, bd, loop, ...
    licence: Licence = SONIC_PI_LICENCE

    @property
    def source_id(self) -> str:
        return f"sonicpi:{self.name}"


@dataclass(frozen=True, slots=True)
class KitRef:
    name: str
    path: Path  # folder holding drumkit.xml (or, for the sonic-pi kit, the samples folder)
    licence: Licence
    origin: str = "hydrogen"  # "hydrogen" or "sonicpi"
    members: tuple[str, ...] = field(default_factory=tuple)  # sample source ids a virtual kit is made of

    @property
    def source_id(self) -> str:
        return f"{self.origin}-kit:{self.name}"


def _read_head(path: Path) -> str:
    try:
        if path.suffix == ".mxl":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if not n.startswith("META") and n.endswith((".xml", ".musicxml"))]
                if not names:
                    return ""
                with z.open(names[0]) as fh:
                    return fh.read(20000).decode("utf-8", "replace")
        with path.open("rb") as fh:
            return fh.read(20000).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile):
        return ""  # unreadable: the worker that parses it will skip and report it


def music21_pieces(paths: SourcePaths, include_restricted: bool = False) -> list[PieceRef]:
    """Score files in licensed folders, sorted by key; restricted ones only if asked for.

    Some works exist in two encodings (bwv…mxl and …krn, a trecento .xml and .mxl): only one is kept, or
    the same music could land in two splits."""
    root = paths.music21_corpus()
    out: list[PieceRef] = []
    by_stem: dict[str, int] = {}
    for f in sorted(root.rglob("*")):
        if f.suffix not in SCORE_SUFFIXES or not f.is_file():
            continue
        rel = f.relative_to(root).as_posix()
        folder = rel.split("/")[0]
        lic = music21_folder_licence(folder)
        if lic is None or "/" not in rel:
            continue
        lic = classify_encoding_text(lic, _read_head(f))
        if not (lic.commercial_ok or include_restricted):
            continue
        ref = PieceRef(key=rel, path=f, folder=folder, licence=lic)
        stem = rel.rsplit(".", 1)[0]
        if stem in by_stem:
            kept = out[by_stem[stem]]
            if SCORE_SUFFIXES.index(f.suffix) < SCORE_SUFFIXES.index(kept.path.suffix):
                out[by_stem[stem]] = ref
        else:
            by_stem[stem] = len(out)
            out.append(ref)
    return out


def sonic_pi_samples(paths: SourcePaths) -> list[SampleRef]:
    root = Path(paths.sonic_pi_dir)
    out = []
    for f in sorted(root.iterdir()):
        if f.suffix.lower() in (".flac", ".wav", ".ogg", ".aif", ".aiff") and f.is_file():
            out.append(SampleRef(name=f.stem, path=f, category=f.stem.split("_")[0]))
    return out


# one-shots that make up the virtual "sonic-pi 808" electronic kit (role → sample name)
SONIC_PI_KIT = {
    "kick": "bd_808", "snare": "sn_dub", "clap": "perc_snap", "hat_closed": "drum_cymbal_closed",
    "hat_open": "drum_cymbal_open", "crash": "drum_splash_soft", "tom_low": "drum_tom_lo_soft",
    "tom_mid": "drum_tom_mid_soft", "tom_high": "drum_tom_hi_soft", "cowbell": "drum_cowbell",
    "click": "elec_tick",
}


def drum_kits(paths: SourcePaths) -> list[KitRef]:
    """Hydrogen kits (sorted by name) plus the virtual sonic-pi kit."""
    root = Path(paths.hydrogen_dir)
    kits = []
    for d in sorted(root.iterdir()):
        if (d / "drumkit.xml").is_file():
            lic = HYDROGEN_KIT_LICENCES.get(d.name, Licence("LicenseRef-unknown", False, "not in the copyright file"))
            kits.append(KitRef(name=d.name, path=d, licence=lic))
    members = tuple(f"sonicpi:{n}" for n in sorted(SONIC_PI_KIT.values()))
    kits.append(KitRef(name="sonic-pi-808", path=Path(paths.sonic_pi_dir), licence=SONIC_PI_LICENCE,
                       origin="sonicpi", members=members))
    return kits
