"""General MIDI instrumentation: which programs play which part, per musical style.

A score's parts are ranked by mean pitch: the highest is the melody, the lowest the bass, the rest inner
voices. A palette names a GM program for each role (and the words a musician would use for it); a style
(from the music21 folder) lists the palettes that make sense for that repertoire and a tempo range.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Palette:
    name: str
    phrase: str  # how a description says it: "on church organ", "by a string quartet"
    melody: tuple[int, str]
    inner: tuple[int, str]
    bass: tuple[int, str]

    def __post_init__(self) -> None:
        for role in (self.melody, self.inner, self.bass):
            if not 0 <= role[0] <= 127:
                raise ValueError(f"palette {self.name}: GM program {role[0]} out of range")

    def program_for(self, role: str) -> tuple[int, str]:
        return {"melody": self.melody, "inner": self.inner, "bass": self.bass}[role]

    def instruments(self, roles: list[str]) -> list[str]:
        seen: list[str] = []
        for r in roles:
            label = self.program_for(r)[1]
            if label not in seen:
                seen.append(label)
        return seen


PALETTES: dict[str, Palette] = {p.name: p for p in (
    Palette("organ", "on church organ", (19, "church organ"), (19, "church organ"), (19, "church organ")),
    Palette("strings", "by a string quartet", (40, "violin"), (41, "viola"), (42, "cello")),
    Palette("string_orchestra", "by a string orchestra", (48, "strings"), (48, "strings"), (43, "contrabass")),
    Palette("brass", "by a brass ensemble", (56, "trumpet"), (60, "french horn"), (57, "trombone")),
    Palette("woodwinds", "by a woodwind quartet", (73, "flute"), (71, "clarinet"), (70, "bassoon")),
    Palette("choir", "sung by a choir", (52, "choir"), (52, "choir"), (52, "choir")),
    Palette("piano", "on solo piano", (0, "piano"), (0, "piano"), (0, "piano")),
    Palette("harpsichord", "on harpsichord", (6, "harpsichord"), (6, "harpsichord"), (6, "harpsichord")),
    Palette("recorders", "by a recorder consort", (74, "recorder"), (74, "recorder"), (74, "recorder")),
    Palette("lute", "on lute and viol", (24, "nylon guitar"), (24, "nylon guitar"), (42, "cello")),
    Palette("epiano", "on electric piano", (4, "electric piano"), (4, "electric piano"), (4, "electric piano")),
    Palette("honkytonk", "on honky-tonk piano", (3, "honky-tonk piano"), (3, "honky-tonk piano"),
            (3, "honky-tonk piano")),
    Palette("mallets", "on marimba and vibraphone", (11, "vibraphone"), (12, "marimba"), (12, "marimba")),
    Palette("synth", "on synthesizers", (81, "sawtooth lead"), (89, "warm pad"), (38, "synth bass")),
    Palette("jazz", "by a jazz combo", (66, "tenor sax"), (4, "electric piano"), (32, "acoustic bass")),
    Palette("fiddle", "on fiddle", (110, "fiddle"), (24, "nylon guitar"), (32, "acoustic bass")),
    Palette("flute", "on flute", (73, "flute"), (46, "harp"), (42, "cello")),
    Palette("whistle", "on tin whistle", (78, "whistle"), (25, "steel guitar"), (32, "acoustic bass")),
    Palette("accordion", "on accordion", (21, "accordion"), (21, "accordion"), (21, "accordion")),
    Palette("banjo", "on banjo", (105, "banjo"), (25, "steel guitar"), (32, "acoustic bass")),
    Palette("harp", "on harp", (46, "harp"), (46, "harp"), (46, "harp")),
    Palette("bagpipe", "on bagpipes", (109, "bagpipe"), (109, "bagpipe"), (109, "bagpipe")),
    # band arrangements for layered mixes: the corpus piece becomes lead + chords + bass over drums
    Palette("band_keys", "with electric bass and electric piano", (4, "electric piano"), (4, "electric piano"),
            (33, "electric bass")),
    Palette("band_synth", "with synth bass, pad and lead", (81, "sawtooth lead"), (89, "warm pad"),
            (38, "synth bass")),
    Palette("band_guitar", "with guitars and bass", (27, "clean electric guitar"), (25, "steel guitar"),
            (34, "picked bass")),
    Palette("band_organ", "with organ and bass", (17, "percussive organ"), (16, "drawbar organ"),
            (33, "electric bass")),
    Palette("band_brass", "with horns, piano and bass", (61, "brass section"), (0, "piano"), (33, "electric bass")),
)}


@dataclass(frozen=True, slots=True)
class Style:
    name: str  # words in a description: "baroque chorale", "irish fiddle tune"
    genre_tags: tuple[str, ...]
    palettes: tuple[str, ...]
    bpm_range: tuple[float, float]
    composer: str | None = None

    def __post_init__(self) -> None:
        unknown = [p for p in self.palettes if p not in PALETTES]
        if unknown:
            raise ValueError(f"style {self.name}: unknown palettes {unknown}")
        if not 20 <= self.bpm_range[0] <= self.bpm_range[1] <= 300:
            raise ValueError(f"style {self.name}: bad bpm range {self.bpm_range}")


_CLASSICAL = ("strings", "piano", "woodwinds", "string_orchestra", "epiano", "mallets")
_EARLY = ("recorders", "choir", "organ", "lute", "strings")
_FOLK = ("fiddle", "flute", "whistle", "accordion", "banjo", "harp", "piano", "bagpipe", "mallets")

STYLES: dict[str, Style] = {
    "bach": Style("baroque chorale", ("baroque", "chorale", "classical"),
                  ("organ", "choir", "strings", "brass", "woodwinds", "harpsichord", "piano", "string_orchestra",
                   "synth", "mallets"), (56, 96), "Bach"),
    "handel": Style("baroque piece", ("baroque", "classical"), ("harpsichord", "strings", "organ"), (70, 120), "Handel"),
    "corelli": Style("baroque trio sonata", ("baroque", "classical"), ("strings", "harpsichord"), (70, 120), "Corelli"),
    "cpebach": Style("galant keyboard piece", ("baroque", "classical"), ("harpsichord", "piano"), (70, 120), "C. P. E. Bach"),
    "monteverdi": Style("renaissance madrigal", ("renaissance", "madrigal", "early music"), _EARLY, (60, 100),
                        "Monteverdi"),
    "palestrina": Style("renaissance polyphony", ("renaissance", "choral", "early music"), ("choir", "organ",
                        "recorders"), (60, 90), "Palestrina"),
    "josquin": Style("renaissance motet", ("renaissance", "early music"), _EARLY, (60, 95), "Josquin"),
    "trecento": Style("medieval ballata", ("medieval", "early music"), ("recorders", "lute", "organ", "choir"), (60, 100)),
    "ciconia": Style("medieval song", ("medieval", "early music"), ("recorders", "lute", "choir"), (60, 100), "Ciconia"),
    "luca": Style("medieval song", ("medieval", "early music"), ("recorders", "lute", "choir"), (60, 100)),
    "lusitano": Style("renaissance motet", ("renaissance", "early music"), _EARLY, (60, 95), "Lusitano"),
    "mozart": Style("classical-era piece", ("classical",), _CLASSICAL, (80, 140), "Mozart"),
    "haydn": Style("classical chamber piece", ("classical",), _CLASSICAL, (80, 140), "Haydn"),
    "beethoven": Style("classical chamber piece", ("classical",), _CLASSICAL, (70, 140), "Beethoven"),
    "schubert": Style("romantic song", ("romantic", "classical"), ("piano", "strings"), (60, 110), "Schubert"),
    "schumann_clara": Style("romantic piano piece", ("romantic", "classical"), ("piano", "strings"), (60, 110),
                            "Clara Schumann"),
    "schumann_robert": Style("romantic piano piece", ("romantic", "classical"), ("piano", "strings"), (60, 110),
                             "Robert Schumann"),
    "chopin": Style("romantic piano piece", ("romantic", "classical"), ("piano",), (60, 110), "Chopin"),
    "weber": Style("romantic piece", ("romantic", "classical"), ("piano", "strings"), (60, 110), "Weber"),
    "verdi": Style("romantic aria", ("romantic", "classical"), ("strings", "piano", "brass"), (60, 110), "Verdi"),
    "beach": Style("romantic song", ("romantic", "classical"), ("piano", "strings"), (60, 100), "Amy Beach"),
    "liliuokalani": Style("hawaiian song", ("folk", "song"), ("piano", "harp", "lute"),
                          (70, 100), "Liliuokalani"),
    "johnson_j_r": Style("spiritual", ("folk", "song"), ("piano", "choir"), (60, 100), "J. Rosamond Johnson"),
    "joplin": Style("ragtime", ("ragtime", "piano"), ("piano", "honkytonk", "epiano"), (80, 110), "Joplin"),
    "ryansMammoth": Style("fiddle tune", ("folk", "celtic", "dance"), _FOLK, (90, 132)),
    "oneills1850": Style("irish folk tune", ("folk", "celtic", "irish"), _FOLK, (90, 130)),
    "airdsAirs": Style("scottish air", ("folk", "celtic", "scottish"), _FOLK, (70, 110)),
    "nottingham-dataset": Style("english folk dance tune", ("folk", "dance"), _FOLK, (90, 130)),
    "miscFolk": Style("folk tune", ("folk",), _FOLK, (80, 120)),
    "essenFolksong": Style("european folk song", ("folk", "song"), _FOLK, (70, 120)),
    "schoenberg": Style("modernist piece", ("modern", "classical"), ("piano", "strings"), (50, 100), "Schoenberg"),
    "webern": Style("modernist piece", ("modern", "classical"), ("piano", "strings"), (50, 100), "Webern"),
}

BAND_PALETTES = ("band_keys", "band_synth", "band_guitar", "band_organ", "band_brass")


def style_for(folder: str) -> Style:
    return STYLES.get(folder, Style("piece", ("classical",), ("piano",), (70, 110)))


def assign_roles(mean_pitches: list[float]) -> list[str]:
    """Role per part from mean MIDI pitch: top → melody, bottom → bass, others → inner; one part → melody."""
    n = len(mean_pitches)
    if n == 0:
        return []
    if n == 1:
        return ["melody"]
    order = sorted(range(n), key=lambda i: -mean_pitches[i])
    roles = ["inner"] * n
    roles[order[0]] = "melody"
    roles[order[-1]] = "bass"
    return roles
