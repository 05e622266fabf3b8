"""`lmd-studio` / `make run`: the desktop instrument, or a headless demo render when there is no display.

An entry point in the top layer: it builds the Session (app) and hands it to the window (gui).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lmd_studio.cli.process_env import set_process_defaults


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True  # an explicit headless Qt platform was asked for
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def demo_path() -> Path:
    import platformdirs

    folder = Path(platformdirs.user_music_dir()) / "LMD Studio"
    return folder / "lmd-studio-demo.wav"


def render_demo(seconds: float = 30.0, model: str | None = None) -> Path:
    from lmd_studio.app.bootstrap import make_generator, make_mailbox
    from lmd_studio.app.model_errors import load_generator
    from lmd_studio.engine.render import render_to_file

    generator = load_generator(make_generator, model, threads=1)
    mailbox = make_mailbox(generator)
    out = demo_path()
    print(f"rendering a {seconds:.0f} s demo with model '{generator.name}' …", flush=True)
    result = render_to_file(generator, mailbox, seconds, out)
    print(f"demo written to {result.path} ({result.speed_x_realtime:.1f}× real time)")
    return result.path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lmd-studio", description="LMD Studio, the live generative instrument")
    p.add_argument("--model", default=None, help="'fake' or a model folder (default: models/default)")
    p.add_argument("--headless-demo", action="store_true", help="render the 30 s demo WAV instead of opening a window")
    p.add_argument("--quit-after", type=float, default=None, help="quit after this many seconds (smoke tests)")
    p.add_argument("--audio", default=None, help="'null' for silent output, or a device name/index")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    set_process_defaults()
    args = parse_args(argv)
    if args.headless_demo or not has_display():
        if not args.headless_demo:
            print("no display found (DISPLAY is not set): rendering a demo WAV headless instead of opening the studio")
        from lmd_studio.app.model_errors import MODEL_HINT, ModelLoadError
        from lmd_studio.engine.audio_file import AudioFileError
        from lmd_studio.engine.render import RenderError

        try:
            render_demo(model=args.model)
        except ModelLoadError as exc:
            print(f"lmd-studio: {exc}\n  what to do: {MODEL_HINT}", file=sys.stderr)
            return 1
        except (RenderError, AudioFileError) as exc:
            print(f"lmd-studio: {exc}", file=sys.stderr)
            return 1
        return 0
    from functools import partial

    from lmd_studio.app.bootstrap import build_studio
    from lmd_studio.gui.app_main import run_gui  # Qt only from here on

    # the window opens first; a torch model loads behind it with its progress shown (app/startup.py)
    return run_gui(args, partial(build_studio, load_in_background=True))


if __name__ == "__main__":
    sys.exit(main())
