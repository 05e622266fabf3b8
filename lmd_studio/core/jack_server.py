"""Whether a JACK server answers: the studio asks at start-up, to run its default device and MIDI on JACK
when one runs (app/midi_link.py). Starting a server is the test and benchmark harness's job
(bench/harness/jack.py); the studio never starts or stops one. Stdlib only."""

from __future__ import annotations

import os
import shutil
import subprocess


def jack_client_env() -> dict[str, str]:
    """This process's environment for a JACK client tool: never let it autostart a server behind our back,
    and skip the D-Bus device reservation."""
    return dict(os.environ, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")


def jack_server_running() -> bool:
    """Whether the server named by $JACK_DEFAULT_SERVER (or 'default') answers."""
    if shutil.which("jack_wait") is None:
        return False
    out = subprocess.run(["jack_wait", "-c"], env=jack_client_env(), capture_output=True, text=True, timeout=10)
    return out.stdout.strip() == "running"
