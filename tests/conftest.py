"""Shared fixtures. Qt runs offscreen in tests; set before any QApplication exists."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from lmd_studio.bench.harness.jack import JackServer, jack_available, jack_dummy_server, start_jackd  # noqa: E402
from lmd_studio.core.jack_server import jack_server_running  # noqa: E402


@pytest.fixture(scope="session")
def jack_server() -> JackServer:
    """One JACK dummy server (48 kHz, 256-frame periods) for the whole test session.

    PortAudio enumerates host APIs at initialisation, so audio tests re-initialise sounddevice after this
    fixture starts (see tests/audio). MIDI tests use mido's 'rtmidi/UNIX_JACK' backend against it.
    """
    if not jack_available():
        pytest.fail("jackd is missing: run `make test` (it installs jackd2) or apt-get install jackd2")
    with jack_dummy_server(realtime=True) as server:  # real-time clock as on a user's machine
        yield server
        # PortAudio must let go of the server before it stops, else its JACK host API asserts at exit. If the
        # server no longer answers (a CI run once aborted inside this call), letting go would abort too:
        # then the server is started again under its name first, so the client can close against it.
        sd = sys.modules.get("sounddevice")
        if sd is not None:
            if not jack_server_running():
                start_jackd(server.server_name)
            sd._terminate()
