"""Licences of every source the corpus draws on, and the rule that keeps non-commercial data out.

Each corpus item lists the licences of everything audible in it (score encoding, soundfont, drum kit,
sample). An item is `commercial_ok` only if all of them allow commercial use; anything else is excluded from
a build unless `--include-noncommercial` is given, and model cards list the licences of what they used.

Sources of truth: /usr/share/doc/<package>/copyright for the Debian packages, music21's corpus/license.txt
plus the rights notes embedded in individual encodings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Licence:
    spdx: str  # SPDX id where one exists, else a short descriptive id
    commercial_ok: bool
    note: str = ""

    def __post_init__(self) -> None:
        if not self.spdx:
            raise ValueError("a licence needs an id")


CC0 = Licence("CC0-1.0", True)
MIT = Licence("MIT", True)
GPL2 = Licence("GPL-2.0-only", True, "sound samples under GPL; renders are derived works")
GPL2_PLUS = Licence("GPL-2.0-or-later", True, "sound samples under GPL; renders are derived works")
CC_BY_3 = Licence("CC-BY-3.0", True, "attribution required")
CC_BY_SA_3 = Licence("CC-BY-SA-3.0", True, "attribution, share-alike")
CC_BY_SA_4 = Licence("CC-BY-SA-4.0", True, "attribution, share-alike")
PD_SCORE = Licence("PD-score", True, "public-domain composition; encoding distributed with music21 (BSD-3-Clause)")
NONCOMMERCIAL = Licence("LicenseRef-noncommercial", False, "encoding licensed for non-commercial use only")
RESTRICTED = Licence("LicenseRef-restricted", False, "encoding rights reserved or composition copyright varies")

# hydrogen-drumkits, per /usr/share/doc/hydrogen-drumkits/copyright (kit folder name → licence)
HYDROGEN_KIT_LICENCES: dict[str, Licence] = {
    "Audiophob": CC0,
    "BJA_Pacific": Licence("CC-BY-SA-3.0-US", True, "attribution, share-alike"),
    "ColomboAcousticDrumkit": Licence("GPL-2.0-or-later", True, "with composition exception"),
    "ElectricEmpireKit": GPL2_PLUS,
    "ForzeeStereo": GPL2,
    "Gimme A Hand 1.0": GPL2,
    "HardElectro1": GPL2_PLUS,
    "Millo-Drums_v.1": GPL2,
    "Millo_MultiLayered2": GPL2,
    "Millo_MultiLayered3": GPL2,
    "The Black Pearl 1.0": GPL2,
    "VariBreaks": GPL2_PLUS,
    "circAfrique v4": CC_BY_SA_3,
    "rumpf_kit_z01_h2": CC_BY_3,
}

SOUNDFONT_LICENCES: dict[str, Licence] = {
    "FluidR3_GM": MIT,
    "MuseScore_General": Licence("MIT", True, "MIT, parts PD/CC0 (see the package's copyright file)"),
}

SONIC_PI_LICENCE = CC0  # /usr/share/sonic-pi/samples/README.md: all samples CC0 from freesound.org

# music21 corpus folders. Folders not listed are skipped (demos, exercises, lead sheets).
_MUSIC21_FOLDERS: dict[str, Licence] = {
    **{name: PD_SCORE for name in (
        "bach", "beethoven", "chopin", "handel", "haydn", "mozart", "joplin", "monteverdi", "schubert",
        "schumann_clara", "schumann_robert", "corelli", "cpebach", "trecento", "ciconia", "josquin",
        "airdsAirs", "oneills1850", "ryansMammoth", "nottingham-dataset", "miscFolk", "weber", "verdi", "beach",
        "luca", "lusitano", "johnson_j_r", "liliuokalani")},
    # the Essen collection: permission for non-commercial distribution and use only (its license.txt)
    "essenFolksong": NONCOMMERCIAL,
    # CCARH/Humdrum encodings: "rights to all derivative electronic formats reserved", see below
    "palestrina": RESTRICTED,
    # 20th-century compositions: copyright status differs between jurisdictions
    "schoenberg": RESTRICTED,
    "webern": RESTRICTED,
}

# rights notes inside an encoding that override its folder's licence
_RESTRICTIVE_NOTES = (
    re.compile(r"rights to all derivative electronic formats reserved", re.I),
    re.compile(r"all rights reserved", re.I),
    re.compile(r"non-?commercial", re.I),
    re.compile(r"UT ORPHEUS", re.I),
)


# produced music from Debian game-music packages (data/produced.py), per /usr/share/doc/<package>/copyright:
# the licence names used on DEP-5 `License:` lines, and what the free-form files state
GPL2_PLUS_RECORDING = Licence("GPL-2.0-or-later", True, "recordings under GPL; clips are derived works")
DRASCULA = Licence("LicenseRef-Drascula", False, "free to copy and modify, but 'you may not charge a fee for the "
                                                 "game itself': kept out like the non-commercial sources")
UNKNOWN = Licence("LicenseRef-unknown", False, "licence not found in the package's copyright file")
DEP5_LICENCES: dict[str, Licence] = {
    "CC-BY-SA-3.0": CC_BY_SA_3, "CC-BY-SA-4.0": CC_BY_SA_4, "CC-BY-3.0": CC_BY_3, "CC0-1.0": CC0, "MIT": MIT,
    "Expat": MIT, "GPL-2+": GPL2_PLUS_RECORDING, "Drascula-License": DRASCULA,
}


def music21_folder_licence(folder: str) -> Licence | None:
    """Licence for a music21 corpus folder, or None when the folder is not used at all."""
    return _MUSIC21_FOLDERS.get(folder)


def classify_encoding_text(folder_licence: Licence, text: str) -> Licence:
    """Downgrade a folder's licence when the encoding itself carries a restrictive rights note."""
    if not folder_licence.commercial_ok:
        return folder_licence
    head = text[:20000]  # rights notes live in the header; whole scores are large
    for pattern in _RESTRICTIVE_NOTES:
        if pattern.search(head):
            return Licence(RESTRICTED.spdx, False, f"encoding says: {pattern.pattern}")
    return folder_licence


def combine(licences: list[Licence]) -> tuple[list[str], bool]:
    """(sorted unique licence ids, commercial_ok of the whole) for an item built from several sources."""
    ids = sorted({lic.spdx for lic in licences})
    return ids, all(lic.commercial_ok for lic in licences)
