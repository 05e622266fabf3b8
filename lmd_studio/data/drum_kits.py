"""Drum kits from Hydrogen's drumkit.xml files (and a virtual sonic-pi kit), and rendering hits with them.

Instrument names are mapped to roles (kick, snare, hats, toms, ...) by keywords; velocity picks the layer
whose [min, max] range contains it (Hydrogen's own rule) and scales its gain. Samples are loaded once per
worker, mixed to mono and resampled to the corpus rate. A sample that cannot be read is dropped from its kit
and reported; a kit that loses its kick or snare is unusable for the patterns that need them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.data.sources import SONIC_PI_KIT, KitRef
from lmd_studio.dsp.resample import resample, to_mono

_ROLE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((role, re.compile(rx, re.I)) for role, rx in (
    ("hand_low", r"djembe\d? bass|bongo ?lo|conga ?lo|cajon thump|dununba.*head|sangban.*head|low conga"),
    ("hand_high", r"djembe\d? (slap|tone)|bongo ?hi|conga|cajon slap|kenkeni.*head"),
    ("hat_pedal", r"(hat|hh).*(pedal|foot)|(pedal|foot).*(hat|hh)"),
    ("hat_open", r"(hat|hh).*(open|op\b|semi)|open.*(hat|hh)|\bohh\b|side ohh"),
    ("hat_closed", r"hat|\bhh\b|chh|hihat|hi-hat"),
    ("kick", r"kick|bass ?drum|\bbd\b|bassdrum"),
    ("snare", r"snare|\bsn\b"),
    ("clap", r"clap|snap"),
    ("rim", r"rim|stick|redo"),
    ("ride", r"ride"),
    ("crash", r"crash|splash|china|cymbal"),
    ("tom_low", r"tom.*(low|lo\b|floor)|(low|floor).*tom"),
    ("tom_high", r"tom.*(hi|high)|(hi|high).*tom"),
    ("tom_mid", r"tom"),
    ("cowbell", r"cowbell|agogo|bell"),
    ("shaker", r"shak|maraca|tambourine"),
    ("click", r"click|clave|wood ?block|zap|tick|blip|whistle"),
))

_KIT_KINDS = {"ElectricEmpireKit": "electronic", "HardElectro1": "electronic", "Audiophob": "electronic",
              "sonic-pi-808": "electronic", "VariBreaks": "electronic", "circAfrique v4": "hand",
              "Gimme A Hand 1.0": "hand"}
KIT_PHRASES = {"electronic": "electronic drum machine", "acoustic": "acoustic drum kit", "hand": "hand drums"}


def kit_kind(name: str) -> str:
    """"acoustic", "electronic" or "hand" (decides which patterns a kit plays)."""
    return _KIT_KINDS.get(name, "acoustic")


def role_of(name: str) -> str | None:
    if re.search(r"roll", name, re.I):
        return None  # a sampled roll is not a single hit
    for role, rx in _ROLE_RULES:
        if rx.search(name):
            return role
    return None


@dataclass(frozen=True, slots=True)
class Layer:
    path: Path
    min_vel: float  # 0..1
    max_vel: float
    gain: float


@dataclass(frozen=True, slots=True)
class Instrument:
    name: str
    role: str
    volume: float
    layers: tuple[Layer, ...]


@dataclass(slots=True)
class DrumKit:
    ref: KitRef
    kind: str
    instruments: dict[str, list[Instrument]]
    problems: list[str] = field(default_factory=list)  # samples that exist but could not be read: clip fails
    missing: list[str] = field(default_factory=list)  # files drumkit.xml names but the kit lacks: layer dropped
    _audio: dict[Path, np.ndarray] = field(default_factory=dict)

    @property
    def roles(self) -> set[str]:
        return set(self.instruments)

    def sample(self, path: Path, sample_rate_hz: int) -> np.ndarray | None:
        if path not in self._audio:
            try:
                data, sr = sf.read(str(path), dtype="float32", always_2d=False)
                x = resample(to_mono(data), sr, sample_rate_hz)
                if not np.all(np.isfinite(x)) or x.size == 0:
                    raise ValueError("empty or non-finite audio")
                self._audio[path] = x
            except Exception as exc:  # soundfile raises several types for corrupt files
                self.problems.append(f"{path}: unreadable sample ({type(exc).__name__}: {exc})")
                self._audio[path] = np.zeros(0, dtype=np.float32)
        x = self._audio[path]
        return x if x.size else None


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _float(el: ET.Element, tag: str, default: float) -> float:
    try:
        return float(el.findtext(tag, default=str(default)))
    except ValueError:
        return default


def load_kit(ref: KitRef) -> DrumKit:
    """Parse a kit's instruments (no audio is read yet). Raises ValueError for an unreadable drumkit.xml."""
    kind = kit_kind(ref.name)
    instruments: dict[str, list[Instrument]] = {}
    if ref.origin == "sonicpi":
        for role, name in SONIC_PI_KIT.items():
            path = Path(ref.path) / f"{name}.flac"
            instruments.setdefault(role, []).append(Instrument(name, role, 1.0, (Layer(path, 0.0, 1.0, 1.0),)))
        return DrumKit(ref, kind, instruments)
    xml_path = Path(ref.path) / "drumkit.xml"
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f"{xml_path}: unreadable drumkit.xml ({exc})") from None
    _strip_ns(root)
    missing: list[str] = []
    for inst in root.iter("instrument"):
        name = (inst.findtext("name") or "").strip()
        role = role_of(name)
        if role is None or name.lower().startswith("sample:"):
            continue
        layers = []
        for lay in inst.iter("layer"):
            fn = lay.findtext("filename")
            if fn:
                layers.append(Layer(Path(ref.path) / fn, _float(lay, "min", 0.0), _float(lay, "max", 1.0),
                                    _float(lay, "gain", 1.0)))
        if not layers and inst.findtext("filename"):
            layers.append(Layer(Path(ref.path) / inst.findtext("filename"), 0.0, 1.0, 1.0))
        # a packaged kit can name a file it does not ship (Debian's Millo_MultiLayered2 lacks its cowbell):
        # drop that layer (and an instrument left empty) instead of losing every clip the kit would render
        present = [lay.path.is_file() for lay in layers]
        missing += [lay.path.name for lay, ok in zip(layers, present, strict=True) if not ok]
        layers = [lay for lay, ok in zip(layers, present, strict=True) if ok]
        if layers:
            instruments.setdefault(role, []).append(Instrument(name, role, _float(inst, "volume", 1.0),
                                                               tuple(layers)))
    return DrumKit(ref, kind, instruments, missing=sorted(set(missing)))


def render_hits(kit: DrumKit, hits: list[tuple[float, str, int]], duration_s: float, rng: np.random.Generator,
                sample_rate_hz: int = 44100) -> np.ndarray:
    """Mix one-shots at the hit times. One instrument per role is chosen for the whole clip."""
    total = int(round(duration_s * sample_rate_hz))
    out = np.zeros(total + sample_rate_hz, dtype=np.float32)  # room for tails, cut at the end
    chosen = {role: insts[int(rng.integers(len(insts)))] for role, insts in kit.instruments.items()}
    for t, role, vel in hits:
        inst = chosen.get(role)
        if inst is None:
            continue
        v = vel / 127.0
        layers = [lay for lay in inst.layers if lay.min_vel <= v <= lay.max_vel] or list(inst.layers)
        layer = layers[int(rng.integers(len(layers)))]
        x = kit.sample(layer.path, sample_rate_hz)
        if x is None:
            continue
        start = int(round(t * sample_rate_hz))
        if start >= total:
            continue
        seg = x[: out.size - start]
        out[start:start + seg.size] += seg * (inst.volume * layer.gain * v ** 1.6)
    return out[:total]
