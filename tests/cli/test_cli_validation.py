"""`lmd render` checks every flag before anything loads: status 2 and a message saying what is allowed.

Each bad call also names a model folder that does not exist: had the flag been checked only after
loading, the call would fail on the model (status 1) instead."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import soundfile as sf

from lmd_studio import cli
from lmd_studio.cli import arg_types
from lmd_studio.core.generator import PromptSlot


def lmd(*argv: str) -> int:
    try:
        return cli.main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


@pytest.mark.parametrize(("flags", "message"), [
    (["--seconds", "0"], "the length must be more than 0 s"),
    (["--seconds", "-5"], "the length must be more than 0 s"),
    (["--seconds", "nan"], "finite number"),
    (["--seconds", "inf"], "finite number"),
    (["--seconds", "1e9"], "at most 3600 s (1 hour)"),
    (["--seconds", "ten"], "must be a number"),
    (["--threads", "0"], "between 1 and 256"),
    (["--threads", "-2"], "between 1 and 256"),
    (["--rate", "7"], "between 8000 and 192000 Hz"),
    (["--rate", "44.1k"], "whole number"),
    (["--seed", "-1"], "the seed must be between 0"),
    (["--set", "brightness=nan"], "finite number"),
    (["--set", "steps=1000"], "steps must be between 1 and 16"),
    (["--set", "steps=2.5"], "steps takes whole numbers"),
    (["--set", "wobble=3"], "unknown parameter 'wobble'"),
    (["--set", "brightness"], "expected NAME=VALUE"),
    (["--prompt", "drums@nan"], "weight after '@'"),
    (["--prompt", "drums@2000"], "weight after '@'"),
    (["--prompt", "@2"], "prompt text is empty"),
])
def test_bad_flags_are_usage_errors_before_anything_loads(flags: list[str], message: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = lmd("render", "--out", str(tmp_path / "x.wav"), "--model", str(tmp_path / "no-such-model"), *flags)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_out_must_be_an_audio_file_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lmd("render", "--out", str(tmp_path / "x.mp3"), "--model", "fake") == 2
    assert ".wav or .flac" in capsys.readouterr().err
    assert lmd("render", "--out", str(tmp_path), "--model", "fake") == 2


@pytest.mark.parametrize(("text", "slot"), [
    ("warm piano", PromptSlot("warm piano", 1.0)),
    ("warm piano@0.5", PromptSlot("warm piano", 0.5)),
    ("warm piano @ 2", PromptSlot("warm piano", 2.0)),
    ("email me @ the club", PromptSlot("email me @ the club", 1.0)),
    ("track by dj@home", PromptSlot("track by dj@home", 1.0)),
    ("a@b@3", PromptSlot("a@b", 3.0)),
    ("trailing@", PromptSlot("trailing@", 1.0)),
])
def test_only_a_trailing_at_number_is_a_weight(text: str, slot: PromptSlot) -> None:
    assert arg_types.prompt(text) == slot


def test_prompt_with_an_at_sign_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "at.wav"
    code = lmd("render", "--seconds", "0.5", "--out", str(out), "--model", "fake",
               "--prompt", "live @ the warehouse", "--prompt", "rain@0.5", "--set", "steps=6", "--rate", "22050")
    assert code == 0, capsys.readouterr().err
    info = sf.info(str(out))
    assert info.samplerate == 22050 and info.frames == 11025


def test_param_assignment_accepts_the_range_ends() -> None:
    from lmd_studio.core.params import STANDARD_PARAMS

    parse = arg_types.param_assignment(STANDARD_PARAMS)
    assert parse("steps=16") == ("steps", 16.0)
    assert parse(" master_gain_db = -60 ") == ("master_gain_db", -60.0)
    with pytest.raises(argparse.ArgumentTypeError, match="dB"):
        parse("master_gain_db=7")
