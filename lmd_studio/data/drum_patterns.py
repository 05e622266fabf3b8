"""Drum patterns across genres, as step grids, and their humanised performance.

A lane string has one character per step: `X` accent, `x` normal hit, `o` ghost note, `.` rest. Bars are
16 steps (sixteenths) or 12 (triplet eighths, for shuffle, swing and 3/4). Swing delays every second
sixteenth by a fraction of a step. Performance adds timing jitter, velocity jitter, dropped/added ghost
notes and a fill at the end of every fourth bar, so no two bars are sample-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VELOCITY = {"X": 118, "x": 96, "o": 52}

# GM percussion notes per role (for the note labels of drum clips)
GM_DRUM_NOTE = {
    "kick": 36, "snare": 38, "clap": 39, "rim": 37, "hat_closed": 42, "hat_pedal": 44, "hat_open": 46,
    "ride": 51, "crash": 49, "tom_low": 45, "tom_mid": 47, "tom_high": 50, "cowbell": 56, "shaker": 70,
    "click": 75, "hand_low": 64, "hand_high": 63,
}


@dataclass(frozen=True, slots=True)
class DrumPattern:
    genre: str
    phrase: str  # description words: "four-on-the-floor house beat"
    bpm_range: tuple[float, float]
    lanes: dict[str, str]
    steps_per_bar: int = 16
    swing: float = 0.0
    kit_kinds: tuple[str, ...] = ("acoustic",)
    fills: bool = True
    meter: str = "4/4"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for role, lane in self.lanes.items():
            if role not in GM_DRUM_NOTE:
                raise ValueError(f"pattern {self.genre}: unknown role {role!r}")
            if len(lane) % self.steps_per_bar or set(lane) - set("Xxo."):
                raise ValueError(f"pattern {self.genre}/{role}: lane must be whole bars of 'Xxo.' characters")
        if not 0.0 <= self.swing < 0.75:
            raise ValueError(f"pattern {self.genre}: swing must be in [0, 0.75)")

    @property
    def bars(self) -> int:
        return max(len(lane) for lane in self.lanes.values()) // self.steps_per_bar

    @property
    def beats_per_bar(self) -> int:
        return 3 if self.meter == "3/4" else 4


_E = "electronic"
_A = "acoustic"
_H = "hand"
PATTERNS: dict[str, DrumPattern] = {p.genre: p for p in (
    DrumPattern("rock", "straight rock beat", (92, 140), {
        "kick": "x.......x.x.....", "snare": "....X.......X...", "hat_closed": "x.x.x.x.x.x.x.x."}, tags=("rock",)),
    DrumPattern("funk", "tight funk groove", (88, 112), {
        "kick": "x..x..x...x..x..", "snare": "....X..o.o..X..o", "hat_closed": "XxxxXxxxXxxxXxxx"},
        swing=0.1, tags=("funk", "groove")),
    DrumPattern("hip-hop", "boom-bap hip-hop beat", (80, 98), {
        "kick": "x......x.xx.....x.......x.x.....", "snare": "....X.......X.......X.......X..o",
        "hat_closed": "x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x."}, swing=0.45, kit_kinds=(_E, _A), tags=("hip-hop",)),
    DrumPattern("trap", "trap beat with rolling hi-hats", (130, 150), {
        "kick": "x......x..x.....x.........x.....", "snare": "........X...............X.......",
        "hat_closed": "x.x.x.xxx.x.x.x.x.x.xxxxx.x.x.x."}, kit_kinds=(_E,), fills=False, tags=("trap", "hip-hop")),
    DrumPattern("house", "four-on-the-floor house beat", (118, 128), {
        "kick": "X...X...X...X...", "clap": "....x.......x...", "hat_open": "..x...x...x...x.",
        "hat_closed": "x.o.x.o.x.o.x.o."}, kit_kinds=(_E,), fills=False, tags=("house", "dance", "electronic")),
    DrumPattern("techno", "driving techno beat", (125, 140), {
        "kick": "X...X...X...X...", "hat_closed": "..x...x...x...x.", "clap": "....o.......o...",
        "click": "x.xxx.xxx.xxx.xx"}, kit_kinds=(_E,), fills=False, tags=("techno", "dance", "electronic")),
    DrumPattern("drum and bass", "fast drum & bass breakbeat", (162, 176), {
        "kick": "x.........x.....x.....x...x.....", "snare": "....X.......X.......X..o....X...",
        "hat_closed": "x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x."}, kit_kinds=(_E, _A), tags=("drum and bass", "jungle")),
    DrumPattern("breakbeat", "chopped breakbeat", (126, 140), {
        "kick": "x.x.......xx....x.x.......x.....", "snare": "....X..o.o..X..o....X..o.o..X...",
        "hat_closed": "x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x."}, kit_kinds=(_A, _E), tags=("breakbeat",)),
    DrumPattern("bossa nova", "gentle bossa nova rhythm", (118, 140), {
        "kick": "x..xx..xx..xx..x", "rim": "x..x..x...x..x..", "hat_closed": "xxxxxxxxxxxxxxxx"},
        tags=("bossa nova", "latin", "brazilian")),
    DrumPattern("reggae", "laid-back reggae one-drop", (68, 84), {
        "kick": "........X.......", "rim": "........x.......", "hat_closed": "x.x.x.x.x.x.x.x."},
        swing=0.3, tags=("reggae",)),
    DrumPattern("disco", "disco beat with open hats", (112, 126), {
        "kick": "x...x...x...x...", "snare": "....X.......X...", "hat_open": "..x...x...x...x.",
        "hat_closed": "x...x...x...x..."}, kit_kinds=(_A, _E), tags=("disco", "dance")),
    DrumPattern("shuffle", "blues shuffle", (84, 116), {
        "kick": "x.....x.....", "snare": "...X.....X..", "hat_closed": "x.xx.xx.xx.x"}, steps_per_bar=12,
        tags=("blues", "shuffle")),
    DrumPattern("jazz swing", "swinging jazz ride pattern", (120, 200), {
        "ride": "x..x.xx..x.x", "hat_pedal": "...x.....x..", "kick": "o.....o.....", "snare": "........o..."},
        steps_per_bar=12, tags=("jazz", "swing")),
    DrumPattern("afrobeat", "afrobeat groove", (100, 120), {
        "kick": "x......x..x.....", "snare": "....x..o....x..o", "hat_closed": "xxoxxxoxxxoxxxox",
        "cowbell": "x..x..x...x.x..."}, tags=("afrobeat", "funk")),
    DrumPattern("dubstep", "half-time dubstep beat", (138, 142), {
        "kick": "x.........x.....", "snare": "........X.......", "hat_closed": "x.x.x.x.x.x.x.x."},
        kit_kinds=(_E,), fills=False, tags=("dubstep", "electronic")),
    DrumPattern("waltz", "waltz beat in three", (90, 170), {
        "kick": "x...........", "snare": "....x...x...", "hat_closed": "x...x...x..."}, steps_per_bar=12,
        meter="3/4", tags=("waltz",)),
    DrumPattern("hand percussion", "hand percussion groove", (96, 128), {
        "hand_low": "x..x..x...x.....", "hand_high": "..x..x..xx..x.xx", "shaker": "xxxxxxxxxxxxxxxx"},
        kit_kinds=(_H,), fills=False, tags=("percussion", "world")),
    DrumPattern("african drums", "west african djembe rhythm", (100, 132), {
        "hand_low": "x.....x...x.....", "hand_high": "..xx.x..xx.x.x..", "click": "x..x..x...x.x..."},
        kit_kinds=(_H,), fills=False, tags=("african", "percussion", "world")),
)}


def perform(pattern: DrumPattern, bpm: float, duration_s: float, rng: np.random.Generator,
            available: set[str]) -> list[tuple[float, str, int]]:
    """Hits (time_s, role, velocity) for `duration_s` at `bpm`, humanised; roles missing from the kit are
    substituted (rim → snare, clap → snare, ride → hat...) or dropped."""
    substitutes = {"rim": ("click", "snare"), "clap": ("snare",), "ride": ("hat_closed",), "hat_pedal": ("hat_closed",),
                   "hat_open": ("hat_closed",), "click": ("rim", "hat_closed"), "cowbell": ("click", "rim"),
                   "shaker": ("hat_closed",), "hand_low": ("tom_low", "kick"), "hand_high": ("tom_high", "snare")}
    resolved: dict[str, str] = {}
    for role in pattern.lanes:
        if role in available:
            resolved[role] = role
        else:
            alt = next((a for a in substitutes.get(role, ()) if a in available), None)
            if alt is not None:
                resolved[role] = alt
    step_s = 60.0 / bpm * pattern.beats_per_bar / pattern.steps_per_bar
    bar_s = step_s * pattern.steps_per_bar
    n_bars = int(np.ceil(duration_s / bar_s))
    hits: list[tuple[float, str, int]] = []
    for bar in range(n_bars):
        fill = pattern.fills and bar % 4 == 3 and {"tom_high", "tom_mid", "tom_low"} & available
        for role, lane in pattern.lanes.items():
            if role not in resolved:
                continue
            segment = lane[(bar % (len(lane) // pattern.steps_per_bar)) * pattern.steps_per_bar:][:pattern.steps_per_bar]
            for step, ch in enumerate(segment):
                if fill and step >= 3 * pattern.steps_per_bar // 4 and role != "kick":
                    continue  # the fill replaces the last beat
                if ch == "." and role.startswith("hat") and rng.random() < 0.03:
                    ch = "o"  # an occasional extra ghost note
                if ch == ".":
                    continue
                if ch == "x" and role.startswith("hat") and rng.random() < 0.04:
                    continue  # and an occasional dropped one
                t = bar * bar_s + step * step_s
                if pattern.steps_per_bar == 16 and step % 2 == 1:
                    t += pattern.swing * step_s
                t += rng.normal(0.0, 0.006)
                vel = int(np.clip(VELOCITY[ch] + rng.normal(0, 7), 20, 127))
                hits.append((max(0.0, t), resolved[role], vel))
        if fill:
            toms = [r for r in ("tom_high", "tom_mid", "tom_low") if r in available]
            start = 3 * pattern.steps_per_bar // 4
            for k, step in enumerate(range(start, pattern.steps_per_bar)):
                t = bar * bar_s + step * step_s + rng.normal(0.0, 0.006)
                role = toms[min(k * len(toms) // max(1, pattern.steps_per_bar - start), len(toms) - 1)]
                hits.append((t, role, int(np.clip(100 + rng.normal(0, 8), 20, 127))))
    if "crash" in available:
        hits.append((0.0, "crash", 100))
    return sorted(h for h in hits if h[0] < duration_s)
