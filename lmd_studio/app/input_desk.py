"""The input desk: the audio input as the player sees it — on or off, the level, monitoring, and the
loopback calibration of its round-trip latency (`session.input`); jam mode and generative delay (the Jam
and Delay switches), and the monitor gain generative delay's Dry/Wet sets (`follow_controls`, every frame).

Input, device and channels are audio settings (the Settings dialog; they rebuild the audio engine);
monitoring and the latency correction change on the running input and are remembered (LIVE_AUDIO_FIELDS).
The engine side of the input (the InputTap the jam work reads, the recording's input track) is wired by
engine_parts; this desk only reads and steers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.jobs import BackgroundJob, JobList
from lmd_studio.app.live_settings import LiveSettings
from lmd_studio.app.values import JamState
from lmd_studio.audio.calibration import CalibrationResult, calibrate
from lmd_studio.audio.input_path import InputPath, InputStatus
from lmd_studio.core.generator import HearsInput
from lmd_studio.core.params import DELAY, DELAY_TIME, DRY_WET, FOLLOW, JAM, ParamSpec
from lmd_studio.engine.delay_mix import monitor_gain
from lmd_studio.engine.take_tracks import TrackFormat

CALIBRATE_JOB = "calibrate input latency"


class InputDesk:
    """`set_control(name, value, source)` sets a performance control as the player would (the Jam switch is
    one: it lands like any change, and the timeline marks it)."""

    def __init__(self, engine: EngineHost, settings: LiveSettings, jobs: JobList,
                 notify: Callable[..., None], set_control: Callable[[str, float, str], float]) -> None:
        self._engine = engine
        self._settings = settings
        self._jobs = jobs
        self._notify = notify
        self._set_control = set_control
        self._followed: tuple[object, object, int] | None = None  # (input, mailbox, version) follow_controls saw

    def _path(self) -> InputPath | None:
        return self._engine.runtime.parts.input

    # --- what the window shows -------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """The input is switched on in the settings this engine runs with."""
        return self._path() is not None

    def status(self) -> InputStatus | None:
        path = self._path()
        return path.status() if path is not None else None

    def take_level(self) -> tuple[float, float]:
        """(peak, rms) since the last call, linear; zeros without input."""
        path = self._path()
        return path.tap.take_level() if path is not None else (0.0, 0.0)

    @property
    def monitoring(self) -> bool:
        return self._settings.current.audio.input_monitoring

    def set_monitoring(self, on: bool) -> None:
        """Hear the input through the output (faded in and out; the output never clips)."""
        path = self._path()
        if path is not None:
            path.monitoring = bool(on)
        self._remember(input_monitoring=bool(on))

    def device_names(self) -> list[str]:
        """Devices with inputs, "NAME (HOST API)", for the Settings dialog (asks PortAudio: call it there)."""
        from lmd_studio.audio.devices import list_output_devices

        try:
            return [f"{d.name} ({d.host_api})" for d in list_output_devices() if d.max_input_channels > 0]
        except RuntimeError as exc:
            self._notify("warning", str(exc))
            return []

    # --- jam mode --------------------------------------------------------------------------------------
    def jam(self) -> JamState | None:
        """The Jam switch as it stands; None when the model playing cannot hear a partner."""
        generator = self._engine.runtime.generator
        if not isinstance(generator, HearsInput):
            return None
        mailbox = self._engine.mailbox

        def value(spec: ParamSpec) -> float:
            return mailbox.get(spec.name) if spec.name in mailbox.registry else spec.default

        return JamState(on=value(JAM) >= 0.5, follow=value(FOLLOW), input_on=self._path() is not None,
                        jam_trained=generator.jam_trained, delay_on=value(DELAY) >= 0.5,
                        delay_s=value(DELAY_TIME), dry_wet=value(DRY_WET), delay_trained=generator.delay_trained)

    def set_jam(self, on: bool, source: str = "gui") -> None:
        """Switch jam mode: the model hears the audio input and plays along (from the next change landing)."""
        state = self.jam()
        if state is None:
            self._notify("warning", "This model cannot jam: it has no input for a partner's audio")
            return
        self._set_control(JAM.name, 1.0 if on else 0.0, source)
        self.follow_controls()
        if on and state.note:
            self._notify("warning" if not state.input_on else "info", state.note)

    def set_delay(self, on: bool, source: str = "gui") -> None:
        """Switch generative delay: with Jam on, the model plays the input back re-imagined by the prompt, a
        Delay time later, instead of accompanying it (from the next change landing)."""
        state = self.jam()
        if state is None or DELAY.name not in self._engine.mailbox.registry:
            self._notify("warning", "This model cannot play a generative delay: it has no input for your audio")
            return
        self._set_control(DELAY.name, 1.0 if on else 0.0, source)
        self.follow_controls()
        if not on:
            return
        state = dataclasses.replace(state, delay_on=True)
        if state.note:
            self._notify("warning" if not state.input_on else "info", state.note)
        elif not state.on:
            self._notify("info", "Delay plays your input back once Jam is on")

    def follow_controls(self) -> None:
        """The running input's monitor gain from the controls as they stand (the window, MIDI, a scene may
        have moved them): Dry/Wet's dry gain while generative delay plays, else 1. Called every frame; reads
        the mailbox only when it changed. Monitoring itself stays the player's switch."""
        path = self._path()
        mailbox = self._engine.mailbox
        seen = (path, mailbox, mailbox.version)
        if path is None or seen == self._followed:
            return
        self._followed = seen
        path.monitor_gain = monitor_gain(mailbox.snapshot().controls)

    # --- calibration ---------------------------------------------------------------------------------------
    def calibrate(self) -> BackgroundJob | None:
        """Play a click and find it in the input (the output must be looped back to it); the correction is
        kept for next time. None (and a message) without a running input."""
        path = self._path()
        if path is None or not path.running:
            why = "switch the input on in Settings › Audio" if path is None else (path.message or "it is not running")
            self._notify("warning", f"Cannot calibrate the input latency: {why}")
            return None
        job = BackgroundJob(CALIBRATE_JOB, lambda job: calibrate(path))
        return self._jobs.start(job, self._calibrated)

    def _calibrated(self, job: BackgroundJob) -> None:
        result = job.result
        if not isinstance(result, CalibrationResult):
            self._notify("error", f"Calibration failed: {job.error}")
            return
        if not result.ok:
            why = result.before.message or (result.after.message if result.after else "")
            self._notify("warning", f"Calibration: {why or 'the click was not found'}")
            return
        assert result.after is not None
        self._remember(input_latency_correction_frames=result.correction_frames)
        self._settings.save()
        self._notify("info", f"Input latency calibrated: corrected by {result.before.error_ms:+.2f} ms; "
                             f"the check is off by {result.after.error_ms:+.2f} ms")

    # --- for the other desks --------------------------------------------------------------------------------
    def track_format(self) -> TrackFormat | None:
        """How a take records the input beside the mix (None: input off)."""
        path = self._path()
        if path is None:
            return None
        s = path.status()
        alignment: dict[str, Any] = {
            "sample_aligned": True, "roundtrip_latency_frames": s.roundtrip_frames,
            "reported_latency_frames": s.reported_roundtrip_frames, "calibration_frames": s.correction_frames,
            "input_channels": list(s.channels), "input_device": s.device_name, "input_running": s.running,
            "monitoring": s.monitoring,
            # the level the input was heard at in the mix (generative delay's Dry/Wet lowers it), at take start
            "monitor_level": round(path.monitor_level, 4)}
        return TrackFormat(len(s.channels), alignment)

    def apply_live(self) -> None:
        """Settings changed without an engine rebuild: bring the running input up to them."""
        path = self._path()
        if path is not None:
            audio = self._settings.current.audio
            path.monitoring = audio.input_monitoring
            path.correction_frames = audio.input_latency_correction_frames

    def _remember(self, **changes: Any) -> None:
        audio = dataclasses.replace(self._settings.current.audio, **changes)
        self._settings.update(audio=audio)
        # the run's audio (maybe --audio's) carries them into the next engine too
        self._engine.audio = dataclasses.replace(self._engine.audio, **changes)
