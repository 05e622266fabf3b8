"""`lmd render --bpm --meter --key`: checked before anything loads, and they reach the blocks' controls."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from lmd_studio.cli import cmd_render
from lmd_studio.cli import main as lmd_main
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.rt.mailbox import ParamMailbox


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    cmd_render.add_arguments(p)
    return p.parse_args(["--out", "x.wav", *argv])


def test_tempo_meter_and_key_reach_the_block_controls() -> None:
    mailbox = ParamMailbox(STANDARD_PARAMS)
    cmd_render.apply_musical_args(mailbox, _parse("--bpm", "96.5", "--meter", "3/4", "--key", "A minor"))
    controls = mailbox.snapshot().controls
    assert controls.bpm == 96.5 and controls.beats_per_bar == 3
    # a key is the key knob (A minor = 12 + 9), not a held chord; --chord holds the triad
    assert controls.values["pitch"] == 21.0 and "pitch" not in controls.auto and controls.held_notes == ()
    chord = ParamMailbox(STANDARD_PARAMS)
    cmd_render.apply_musical_args(chord, _parse("--chord", "A minor"))
    assert [n for n, _ in chord.snapshot().controls.held_notes] == [57, 60, 64]  # A, C, E: the A minor triad
    plain = ParamMailbox(STANDARD_PARAMS)
    cmd_render.apply_musical_args(plain, _parse())
    assert plain.snapshot().controls.bpm is None and plain.snapshot().controls.held_notes == ()
    assert _parse("--meter", "6/8").meter == 2 and _parse("--key", "Bb").key.name == "B♭ major"


@pytest.mark.parametrize(("flag", "value", "says"), [("--bpm", "5", "between 20 and 400"),
                                                     ("--bpm", "nan", "tempo"),
                                                     ("--meter", "7/5", "4/4, 3/4"),
                                                     ("--key", "H dorian", "A minor")])
def test_bad_musical_flags_exit_2_before_loading(flag: str, value: str, says: str, capsys, tmp_path) -> None:
    with pytest.raises(SystemExit) as exc:
        lmd_main(["render", "--out", str(tmp_path / "x.wav"), "--model", str(tmp_path / "missing"), flag, value])
    assert exc.value.code == 2
    assert says in capsys.readouterr().err


def test_jam_takes_the_same_musical_flags_as_render(tmp_path) -> None:
    from lmd_studio.cli import cmd_jam

    part = tmp_path / "in.wav"
    part.write_bytes(b"")  # only its existence is checked while parsing
    p = argparse.ArgumentParser()
    cmd_jam.add_arguments(p)
    args = p.parse_args(["--input", str(part), "--out", "x.wav", "--key", "D", "--chord", "E minor"])
    mailbox = ParamMailbox(STANDARD_PARAMS)
    cmd_render.apply_musical_args(mailbox, args)
    controls = mailbox.snapshot().controls
    assert controls.values["pitch"] == 2.0  # D major on the knob…
    assert [n for n, _ in controls.held_notes] == [52, 55, 59]  # …and the held E minor triad over it


def test_progression_flag_sets_the_knob_and_needs_a_tempo_and_key(tmp_path, capsys) -> None:
    mailbox = ParamMailbox(STANDARD_PARAMS)
    cmd_render.apply_musical_args(mailbox, _parse("--bpm", "100", "--key", "A minor", "--progression", "vi-IV-I-V"))
    assert mailbox.snapshot().controls.values["progression"] == 3.0
    assert _parse("--progression", "12-bar blues").progression == 7
    for argv in (["--progression", "I-V-vi-IV"], ["--progression", "1", "--bpm", "100"]):
        assert lmd_main(["render", "--model", "fake", "--out", str(tmp_path / "x.wav"), *argv]) == 2
        err = capsys.readouterr().err
        assert "--progression needs --bpm and --key" in err and err.count("\n") == 1
    assert not (tmp_path / "x.wav").exists()
    with pytest.raises(SystemExit) as exc:
        lmd_main(["render", "--model", "fake", "--out", str(tmp_path / "y.wav"), "--progression", "I-II"])
    assert exc.value.code == 2 and "not a progression" in capsys.readouterr().err
    # the fake model plays it: 4 s at 120 bpm in C = two bars, C then G
    assert lmd_main(["render", "--model", "fake", "--out", str(tmp_path / "z.wav"), "--seconds", "4", "--bpm", "120",
                     "--key", "C", "--progression", "I-V-vi-IV", "--set", "density=0"]) == 0
    import soundfile as sf

    audio, rate = sf.read(str(tmp_path / "z.wav"), always_2d=True)
    first, second = audio[int(0.5 * rate): int(1.5 * rate), 0], audio[int(2.5 * rate): int(3.5 * rate), 0]
    roots = []
    for part in (first, second):
        spectrum = np.abs(np.fft.rfft(part))
        roots.append(np.flatnonzero(spectrum > 0.3 * spectrum.max())[0] * rate / len(part))
    assert abs(roots[0] - 130.8) < 3 and abs(roots[1] - 196.0) < 3
