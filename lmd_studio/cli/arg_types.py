"""argparse `type=` functions for the command line: each turns one flag into a checked value or raises
ArgumentTypeError with a message that says what is allowed, so argparse exits with status 2 before
anything (torch, a model) is loaded."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from lmd_studio.core.generator import PromptSlot
from lmd_studio.core.musical_key import Key, parse_key
from lmd_studio.core.params import ParamRegistry

MAX_RENDER_S = 3600.0
MIN_RATE_HZ = 8000
MAX_RATE_HZ = 192000
AUDIO_SUFFIXES = (".wav", ".flac")


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{what} must be a finite number, got {text!r}")
    return value


def _whole(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None


def render_seconds(text: str) -> float:
    seconds = _number(text, "the length")
    if seconds <= 0.0:
        raise argparse.ArgumentTypeError(f"the length must be more than 0 s, got {text}")
    if seconds > MAX_RENDER_S:
        raise argparse.ArgumentTypeError(f"the length must be at most {MAX_RENDER_S:.0f} s (1 hour), got {text}; "
                                         f"render longer pieces in parts")
    return seconds


def sample_rate(text: str) -> int:
    rate = _whole(text, "the sample rate")
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise argparse.ArgumentTypeError(
            f"the sample rate must be between {MIN_RATE_HZ} and {MAX_RATE_HZ} Hz (e.g. 44100 or 48000), got {text}")
    return rate


def thread_count(text: str) -> int:
    threads = _whole(text, "the thread count")
    if not 1 <= threads <= 256:
        raise argparse.ArgumentTypeError(f"the thread count must be between 1 and 256, got {text}")
    return threads


def seed(text: str) -> int:
    value = _whole(text, "the seed")
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"the seed must be between 0 and 2**63 - 1, got {text}")
    return value


def audio_out_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise argparse.ArgumentTypeError(f"the output file must end in .wav or .flac, got {text!r}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name ending in .wav or .flac")
    return path


def prompt(text: str) -> PromptSlot:
    """TEXT or TEXT@WEIGHT: only a trailing '@' followed by a number is a weight; any other '@' is text."""
    body, sep, tail = text.rpartition("@")
    weight = 1.0
    if sep:
        try:
            weight = float(tail)
        except ValueError:
            body = text  # "meet me @ the club", "user@example": part of the prompt
    else:
        body = text
    if not body.strip():
        raise argparse.ArgumentTypeError(f"the prompt text is empty in {text!r}")
    if not (math.isfinite(weight) and 0.0 <= weight <= 1000.0):
        raise argparse.ArgumentTypeError(f"the weight after '@' must be a number from 0 to 1000, got {tail!r}")
    return PromptSlot(body.strip(), weight)


def param_assignment(registry: ParamRegistry):
    """A `type=` function for NAME=VALUE that checks the name, the range and whole-number parameters."""

    def parse(text: str) -> tuple[str, float]:
        name, sep, raw = text.partition("=")
        name = name.strip()
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
        if name not in registry:
            known = ", ".join(spec.name for spec in registry)
            raise argparse.ArgumentTypeError(f"unknown parameter {name!r}; known: {known}")
        spec = registry.spec(name)
        value = _number(raw.strip(), name)
        if not spec.minimum <= value <= spec.maximum:
            raise argparse.ArgumentTypeError(
                f"{name} must be between {spec.minimum:g} and {spec.maximum:g}{' ' + spec.unit if spec.unit else ''}, "
                f"got {raw.strip()}")
        if spec.integer and value != round(value):
            raise argparse.ArgumentTypeError(f"{name} takes whole numbers, got {raw.strip()}")
        return name, value

    return parse


def number_between(what: str, lo: float, hi: float, why: str):  # noqa: ANN201 — an argparse type function
    """A `type=` function for a finite number in [lo, hi]; `why` says what the range is (shown when out of it)."""

    def parse(text: str) -> float:
        value = _number(text, what)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be between {lo:g} and {hi:g} ({why}), got {text}")
        return value

    return parse


def tempo_bpm(text: str) -> float:
    bpm = _number(text, "the tempo")
    if not 20.0 <= bpm <= 400.0:
        raise argparse.ArgumentTypeError(f"the tempo must be between 20 and 400 bpm, got {text}")
    return bpm


def meter_beats(text: str) -> int:
    """'4/4' → 4, '3/4' → 3, '6/8' → 2 (dotted-quarter beats, as the corpus counts them)."""
    compound = {"6/8": 2, "9/8": 3, "12/8": 4}
    t = text.strip()
    if t in compound:
        return compound[t]
    num, sep, den = t.partition("/")
    if sep and num.isdigit() and den in ("2", "4", "8") and 1 <= int(num) <= 16:
        return int(num)
    raise argparse.ArgumentTypeError(f"the meter must look like 4/4, 3/4, 6/8, got {text!r}")


def musical_key(text: str) -> Key:
    try:
        return parse_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def progression(text: str) -> int:
    """--progression: a preset's number or name (core/progression.py) → the Progression knob's position."""
    from lmd_studio.core.progression import parse_progression

    try:
        return parse_progression(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
