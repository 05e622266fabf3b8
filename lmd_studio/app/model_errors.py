"""One message for every way a model can fail to load: which folder and file, what is wrong, what to do.

The loaders (model/checkpoint.py, model/codec.py, model/model_io.py) already raise CheckpointError naming
the file; a damaged folder can still surface as a torch RuntimeError, an OSError (permissions, a vanished
disk) or a ValueError from a config check that does not know the path. Entry points (`lmd render`, the
studio at start-up and when the player picks a model) call `load_generator`, so none of them shows a
traceback for a broken model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lmd_studio.core.generator import BlockGenerator

REPAIR_HINT = "re-export the model (lmd model export) or copy the folder again"
MODEL_HINT = f"{REPAIR_HINT}, or choose another model ('fake' plays test tones)"
# the default model ships with the app (or the lmd-studio-assets wheel): a player repairs it by reinstalling
REINSTALL_HINT = "reinstall LMD Studio (the app, or the lmd-studio-assets wheel beside lmd-studio)"
DEFAULT_MARKER = "dit.safetensors"


class ModelLoadError(ValueError):
    """A model that cannot be used; `str()` is the message for the player (a ValueError, like the
    loaders' CheckpointError, so background jobs report it without a type name)."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(spec, reason)
        self.spec = spec
        self.reason = reason

    def __str__(self) -> str:
        if self.spec and self.spec in self.reason:  # the reason names a file in the folder already
            return f"could not load the model: {self.reason}"
        return f"could not load {f'the model in {self.spec}' if self.spec else 'the default model'}: {self.reason}"


def describe_load_failure(exc: BaseException) -> str:
    """The reason in words: the loaders' own messages name the file; others get their type."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, ValueError):  # CheckpointError is one: "<file>: <what is wrong>"
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def load_generator(make_generator: Callable[..., BlockGenerator], spec: str | None,
                   threads: int) -> BlockGenerator:
    """`make_generator(spec, threads=threads)`, with any failure turned into ModelLoadError."""
    try:
        return make_generator(spec, threads=threads)
    except Exception as exc:  # noqa: BLE001 — a broken model folder can fail in any layer below
        raise ModelLoadError(spec or "", describe_load_failure(exc)) from exc


def studio_fallback(error: ModelLoadError, make_generator: Callable[..., BlockGenerator], threads: int,
                    try_default: bool) -> tuple[str, BlockGenerator, str]:
    """What the studio plays when the chosen model cannot be loaded, so its window always opens:
    the default model when `try_default` (a model remembered in the settings) and it loads, else the test
    tones. Returns (model spec, generator, banner text naming the file and the problem)."""
    if try_default and error.spec:
        try:
            generator = load_generator(make_generator, None, threads)
        except ModelLoadError:
            pass
        else:
            return "", generator, f"{_sentence(error)} (the model in your settings). Using the default model."
    from lmd_studio.core.fake import FakeBlockGenerator

    repair = REPAIR_HINT if error.spec else f"{REINSTALL_HINT} to repair the default model"
    return "fake", FakeBlockGenerator(), (f"{_sentence(error)}. Playing test tones instead: pick another model "
                                          f"from the list, or {repair}.")


def missing_default_message(default_dir: Path | None) -> str:
    """What to tell the player when "Default model" plays test tones because the default model is not
    there ("" when it is): which file is missing, what plays instead, what to do."""
    if default_dir is None or (default_dir / DEFAULT_MARKER).is_file():
        return ""
    return (f"The default model is not installed ({default_dir / DEFAULT_MARKER} is missing). Playing test "
            f"tones instead: {REINSTALL_HINT}, or open a model folder with File → Open a model folder….")


def _sentence(error: ModelLoadError) -> str:
    text = str(error)
    return text[:1].upper() + text[1:]
