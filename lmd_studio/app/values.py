"""Value types the GUI reads from the Session and its sub-APIs (frozen, no behaviour, no engine types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmd_studio.app.countdown import Countdown
from lmd_studio.app.jobs import JobView
from lmd_studio.app.model_card import ModelCardInfo
from lmd_studio.app.timeline_model import Marker, SpecSlice, WaveSlice
from lmd_studio.core.compute import ComputeInfo
from lmd_studio.core.params import ParamSpec


@dataclass(frozen=True, slots=True)
class ControlInfo:
    """One performance control as the current model sees it."""

    spec: ParamSpec
    supported: bool  # False: this model ignores it (shown disabled, with the reason in the tooltip)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    label: str
    spec: str  # what make_generator takes: "fake", "" (default), or a folder
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """The model playing, for the About box and a problem report."""

    label: str
    spec: str  # "" default, "fake", or a folder
    folder: Path | None  # None: the test tones (or a default model that is not installed)
    card: ModelCardInfo | None  # what its folder says (model_card.py); None without a folder
    compute: ComputeInfo | None  # what it runs on; None for the test tones and while it loads
    loading: bool = False  # the model is still loading (a silent stand-in holds its place)


@dataclass(frozen=True, slots=True)
class Notice:
    level: str  # "info" | "warning" | "error"
    text: str
    path: Path | None = None
    action: str = ""  # a fix the banner offers as a button, e.g. "midi_settings" (open Settings → MIDI)


@dataclass(frozen=True, slots=True)
class StudioStatus:
    playing: bool = False
    primed: bool = False
    recording: bool = False
    record_elapsed_s: float = 0.0
    record_path: str = ""
    level_db: float = -60.0
    hold_db: float = -60.0
    clipped: bool = False
    headroom_s: float = 0.0
    ahead_target_s: float = 1.5
    rtf: float = 0.0
    block_ms: float = 0.0
    block_s: float = 0.0
    underruns: int = 0  # the engine's playback ring ran dry while playing
    device_underflows: int = 0  # the audio device (or the device process) reported a late buffer
    cpu_percent: float = 0.0
    warning: str = ""
    safe_mode: bool = True
    steps_override: int = 0
    pending_change_s: float = 0.0
    next_boundary_s: float = 0.0
    context_s: float = 0.0
    played_s: float = 0.0
    model_name: str = ""
    audio_device: str = ""
    audio_message: str = ""
    sample_rate_hz: int = 0
    buffer_frames: int = 0
    bpm: float | None = None
    held_notes: tuple[tuple[int, int], ...] = ()
    retro_available_s: float = 0.0
    engine_error: str = ""
    countdowns: dict[str, Countdown] = field(default_factory=dict)
    prompt_shares: tuple[float, ...] = ()
    morphing: bool = False
    jobs: tuple[JobView, ...] = ()
    midi_learning: str = ""  # target waiting for a MIDI control, "" when not learning
    controls_version: int = 0  # moves whenever a knob, flag or prompt changes (the GUI redraws knobs then)
    startup: str = ""  # the model loading after the window opened: "Loading model…", "Warming up…", "Ready", ""
    model_loading: bool = False  # no model in the engine yet (a silent stand-in; play waits for the model)
    play_pending: bool = False  # play was pressed and waits for the model to be ready
    adapter: str = ""  # the LoRA adapter in the model ("" none)
    # the musical clock at the playhead (engine/beat_clock.py): bar and beat from 1; 0 = no tempo set
    bar: int = 0
    beat: int = 0
    beats_per_bar: int = 4
    quantise: str = "off"  # where changes land while a tempo is set: "off", "beat", "bar"
    input: InputMeter | None = None  # the audio input's meter and state; None when input is off
    jam: JamState | None = None  # jam mode; None when the model cannot hear a partner


@dataclass(frozen=True, slots=True)
class Branch:
    """A take forked by "play from here again" (app/branches.py)."""

    label: str  # "A", "B", …
    fork_s: float  # stream seconds it plays from
    seed: int  # the Variation it plays with
    new_variation: bool  # made with a new Variation (else: the same one again)


@dataclass(frozen=True, slots=True)
class JamState:
    """Jam mode as the window shows it (app/input_desk.py); None in StudioStatus when the model cannot jam."""

    on: bool  # the Jam switch
    follow: float  # how much the model listens (the Follow control, 0..1)
    input_on: bool  # the audio input is switched on (else there is nothing to hear)
    jam_trained: bool  # the model learned to play along (else it hears you but was never taught to follow)
    delay_on: bool = False  # the Delay switch: with Jam on, the model plays your input back re-imagined
    delay_s: float = 1.0  # the Delay time control
    dry_wet: float = 1.0  # the Dry/Wet control (0: only your input, 1: only the model), while delay plays
    delay_trained: bool = False  # the model learned generative delay

    @property
    def delay_engaged(self) -> bool:
        """Generative delay plays: Jam and Delay both on (Dry/Wet then balances the output)."""
        return self.on and self.delay_on

    @property
    def note(self) -> str:
        """What keeps jam mode from working as the player expects ("" when nothing does)."""
        if not self.input_on:
            return "Jam listens to your audio input: switch it on in Settings › Audio"
        if self.delay_on and not self.delay_trained:
            return ("This model was never taught generative delay: it hears you, but will not play you back "
                    "re-imagined yet")
        if not self.delay_on and not self.jam_trained:
            return "This model was not trained to play along: it hears you, but will not follow you yet"
        return ""


@dataclass(frozen=True, slots=True)
class InputMeter:
    """The audio input as the meters show it."""

    running: bool  # frames arrive from a device
    device: str
    message: str  # why there is no input ("" when running)
    level_db: float  # peak, with fall-off
    hold_db: float
    rms_db: float
    clipped: bool  # a sample reached full scale (latched)
    monitoring: bool
    overruns: int  # input frames lost before the engine took them
    roundtrip_ms: float  # the latency taken out of the input (reported + calibration)
    channels: tuple[int, ...] = (1,)


@dataclass(frozen=True, slots=True)
class TimelineFrame:
    """What the timeline draws, in seconds of stream time."""

    sample_rate_hz: int
    play_s: float
    ahead_s: float  # end of the audio generated so far
    context_start_s: float  # the model listens to [context_start_s, ahead_s)
    wave: WaveSlice
    spec: SpecSlice | None
    boundaries_s: tuple[float, ...]
    markers: tuple[Marker, ...]
    oldest_s: float  # the history does not reach further back
    beat_lines_s: tuple[float, ...] = ()  # the musical clock's beats (bar lines excluded), past and ahead
    bar_lines_s: tuple[float, ...] = ()  # its bar lines (downbeats)
    bar_numbers: tuple[int, ...] = ()  # the bar each bar line starts (from 1)
    bar_chords: tuple[str, ...] = ()  # a playing progression's chord for each bar line ("" past; () if none)
    # the audio input under the generated music (None: input off), and in jam mode the newest input the
    # model has heard — the partner's cut-off (None: Jam off)
    input_wave: WaveSlice | None = None
    heard_s: float | None = None


@dataclass(frozen=True, slots=True)
class BindingRow:
    """One row of the MIDI map editor, as plain values."""

    controller: str
    source_id: str
    source: str
    target: str
    target_label: str
    active: bool
    range_lo: float
    range_hi: float
    invert: bool
    curve: str
    takeover: str
    smoothing_ms: float
    mode: str
    is_button: bool


@dataclass(frozen=True, slots=True)
class MidiTick:
    """What MIDI asked of the app since the last poll."""

    notices: tuple[Notice, ...]
    prompt_weights: tuple[tuple[int, float], ...]
    actions: tuple[tuple[str, int], ...]
