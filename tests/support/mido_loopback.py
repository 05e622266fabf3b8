"""An in-process mido backend for unit tests (select it by module name or MIDO_BACKEND).

Tests `plug()` fake hardware controllers (they appear as input names) and `send` from them; a virtual
input opened by the code under test appears as an output name that a test `Output` can connect to.
Delivery is synchronous, in the sender's thread, so tests need no sleeps.
"""

from __future__ import annotations

import threading

from mido.ports import BaseInput, BaseOutput

NAME = "tests.support.mido_loopback"
_lock = threading.RLock()
_devices: dict[str, Device] = {}  # fake hardware: their outputs are our input names
_virtual_inputs: dict[str, Input] = {}  # virtual inputs opened by the code under test
virtual_supported = True


class Device:
    """A plugged-in controller. `send` reaches every input port opened on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.listeners: list[Input] = []

    def send(self, msg) -> None:
        with _lock:
            listeners = list(self.listeners)
        for port in listeners:
            port._deliver(msg)


def plug(name: str) -> Device:
    with _lock:
        if name in _devices:
            raise ValueError(f"device {name!r} already plugged in")
        _devices[name] = device = Device(name)
        return device


def unplug(name: str) -> None:
    """The device vanishes; ports opened on it stay open but hear nothing (like a real MIDI stack)."""
    with _lock:
        device = _devices.pop(name)
        device.listeners.clear()


def reset() -> None:
    global virtual_supported
    with _lock:
        _devices.clear()
        _virtual_inputs.clear()
        virtual_supported = True


def get_devices(**_kwargs) -> list[dict]:
    with _lock:
        out = [{"name": n, "is_input": True, "is_output": False} for n in _devices]
        out += [{"name": n, "is_input": False, "is_output": True} for n in _virtual_inputs]
        return out


class Input(BaseInput):
    def _open(self, virtual: bool = False, callback=None, client_name=None, **_kwargs) -> None:
        with _lock:
            if virtual:
                if not virtual_supported:
                    raise NotImplementedError("this loopback backend was told not to support virtual ports")
                _virtual_inputs[self.name] = self
            else:
                device = _devices.get(self.name)
                if device is None:
                    raise OSError(f"unknown port {self.name!r}")
                device.listeners.append(self)
        self._virtual = virtual
        self.callback = callback

    def _deliver(self, msg) -> None:
        cb = self.callback
        if cb is not None:
            cb(msg)
        else:
            self._messages.append(msg)

    def _close(self) -> None:
        with _lock:
            if self._virtual:
                if _virtual_inputs.get(self.name) is self:
                    del _virtual_inputs[self.name]
            else:
                for device in _devices.values():
                    if self in device.listeners:
                        device.listeners.remove(self)


class Output(BaseOutput):
    def _open(self, virtual: bool = False, client_name=None, **_kwargs) -> None:
        with _lock:
            if virtual:
                raise NotImplementedError("use plug() for a fake controller")
            if self.name not in _virtual_inputs:
                raise OSError(f"unknown port {self.name!r}")

    def _send(self, msg) -> None:
        with _lock:
            port = _virtual_inputs.get(self.name)
        if port is not None:
            port._deliver(msg)
