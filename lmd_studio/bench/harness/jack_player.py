"""A second JACK client that plays a tone or a file in a loop: the musician for the input tests and
`lmd bench input`.

Run as `python -m lmd_studio.bench.harness.jack_player --name NAME (--tone-hz F | --file PATH)`; it plays
until its stdin closes (the parent went away) and prints one line, "ready", once its ports exist.
`JackPlayer` is the parent's handle: it starts the process and patches its outputs into given ports.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

import numpy as np

from lmd_studio.bench.harness import jack_ports
from lmd_studio.core.jack_server import jack_client_env


def _signal(args: argparse.Namespace, rate: int) -> np.ndarray:
    if args.file:
        import soundfile as sf

        data, file_rate = sf.read(args.file, dtype="float32", always_2d=True)
        if file_rate != rate:  # a loop for a benchmark: nearest-sample rate change is enough
            idx = np.minimum((np.arange(int(len(data) * rate / file_rate)) * file_rate / rate).astype(int), len(data) - 1)
            data = data[idx]
        data = data[:, :args.channels] if data.shape[1] >= args.channels else np.repeat(data[:, :1], args.channels, 1)
        peak = float(np.abs(data).max()) or 1.0
        return np.ascontiguousarray(data * (args.level / peak), np.float32)
    t = np.arange(rate) / rate  # one second of a whole number of cycles loops without a click
    tone = (args.level * np.sin(2 * np.pi * round(args.tone_hz) * t)).astype(np.float32)
    return np.repeat(tone[:, None], args.channels, axis=1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--name", default="lmd-player")
    p.add_argument("--tone-hz", type=float, default=220.0)
    p.add_argument("--file", default="")
    p.add_argument("--level", type=float, default=0.5)
    p.add_argument("--channels", type=int, default=2)
    args = p.parse_args()
    from lmd_studio.audio.devices import find_output_device, load_sounddevice, set_jack_client_name

    sd = load_sounddevice()
    set_jack_client_name(args.name)
    info = find_output_device("JACK")
    if info is None:
        print("no JACK device", flush=True)
        sys.exit(2)
    rate = int(info.default_sample_rate_hz)
    signal = _signal(args, rate)
    pos = [0]

    def callback(outdata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        i, done = pos[0], 0
        while done < frames:  # the signal in a loop
            k = min(frames - done, len(signal) - i)
            outdata[done:done + k] = signal[i:i + k]
            done += k
            i = (i + k) % len(signal)
        pos[0] = i

    with sd.OutputStream(samplerate=rate, blocksize=256, device=info.index, channels=args.channels,
                         dtype="float32", callback=callback):
        print("ready", flush=True)
        sys.stdin.read()  # until the parent closes it


class JackPlayer:
    """`with JackPlayer(into=[...], tone_hz=220):` a player process patched into `into` (e.g. the studio's
    input ports) and nothing else."""

    def __init__(self, into: list[str], name: str = "lmd-player", tone_hz: float = 220.0, file: Path | None = None,
                 level: float = 0.5) -> None:
        self.into = into
        self.name = name
        cmd = [sys.executable, "-m", "lmd_studio.bench.harness.jack_player", "--name", name, "--level", str(level),
               "--channels", str(len(into)), "--tone-hz", str(tone_hz)]
        if file is not None:
            cmd += ["--file", str(file)]
        self._cmd = cmd
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> JackPlayer:
        self._proc = subprocess.Popen(self._cmd, env=jack_client_env(), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline() if self._proc and
                                                             self._proc.stdout else ""), daemon=True)
        reader.start()
        reader.join(20.0)
        if not line or line[0].strip() != "ready":
            self.__exit__(None, None, None)
            raise RuntimeError(f"the JACK player did not start ({line[0].strip() if line else 'no answer'})")
        outputs = jack_ports.wait_for_ports(f"{self.name}:out_", len(self.into))
        jack_ports.route(outputs, self.into)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)


if __name__ == "__main__":
    main()
