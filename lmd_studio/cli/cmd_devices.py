"""`lmd devices`: audio outputs (PortAudio) and MIDI ports."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--midi-backend", default=None, help="mido backend, e.g. mido.backends.rtmidi/UNIX_JACK")


def run(args: argparse.Namespace) -> int:
    from lmd_studio.audio.devices import list_output_devices

    print("Audio devices:")
    try:
        devices = list_output_devices()
        if not devices:
            print("  (none: LMD Studio will play silently and can still record)")
        for d in devices:
            mark = "*" if d.is_default_output else " "
            print(f" {mark}{d.index:3d} {d.name} [{d.host_api}] out={d.max_output_channels} "
                  f"in={d.max_input_channels} {d.default_sample_rate_hz:.0f} Hz")
    except RuntimeError as exc:
        print(f"  unavailable: {exc}")
    print("MIDI ports:")
    try:
        from lmd_studio.midi.ports import list_midi_ports

        inputs, outputs = list_midi_ports(args.midi_backend)
        print("  inputs: " + (", ".join(inputs) if inputs else "(none)"))
        print("  outputs: " + (", ".join(outputs) if outputs else "(none)"))
    except Exception as exc:  # noqa: BLE001 — a missing MIDI stack must not hide the audio list
        print(f"  unavailable: {exc}")
    return 0
