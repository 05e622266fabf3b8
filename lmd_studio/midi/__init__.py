"""MIDI for LMD Studio: learn any control, play the model from a keyboard, follow MIDI clock.

mido (+ python-rtmidi) is imported only inside this package. Qt-free; the GUI reaches it through the
app's Session.

Wiring (app/bootstrap + Session)::

    catalog = TargetCatalog.build(mailbox.registry, prompt_slots=8)      # what bindings may drive
    actions = ActionMailbox(prompt_slots=8)                               # lmd_studio.rt.actions
    sink = MailboxSink(mailbox, actions, catalog)                         # or any ControlSink
    midi = MidiService(sink, paths.midi_maps_dir,
                       resolve_backend_name(settings.midi.backend, use_jack=audio_runs_on_jack),
                       MidiConfig(clock=ClockConfig(enabled=settings.midi.follow_clock,
                                                    follow_transport=settings.midi.transport_from_midi)),
                       catalog)
    midi.start()                           # never raises for a missing MIDI system: see midi.backend_error
    midi.set_inputs(settings.midi.inputs)  # several at once; missing ones open when they appear
    ...
    midi.close()

From the GUI timer (30–60 Hz), on the GUI thread::

    polled = midi.poll()           # MidiPoll: events (learned / port / map_error / backend),
                                   #   learn state, held notes (on-screen keyboard), clock state (BPM, beats)
    done = actions.poll()          # ActionPoll: prompt weights moved by MIDI, actions fired (with counts)

Everything the GUI needs:

- ports: `available_inputs()`, `open_input(name)`, `close_input(name)`, `set_inputs(names)`,
  `port_statuses()` (open / missing / error, message counts), the virtual input "LMD Studio";
  `reopen(backend_name)` switches backend without a restart (maps kept, inputs reopened);
  `list_midi_ports(backend)` for `lmd devices`.
- learn: `arm_learn(target)`, `cancel_learn()`, `learn_state()`; `poll()` completes it and reports a
  'learned' event with the new `Binding`; the binding is saved in that controller's map.
- map editor: `controllers()`, `saved_controllers()`, `bindings(controller)` (rows with labels, inactive for targets this model
  lacks), `set_binding(controller, Binding)` (add or edit by source), `remove_binding(controller,
  source_id)`, `clear_map`, `export_map(controller, path)`, `import_map(controller, path)` (raises
  `MidiMapError`, changes nothing), `map_error(controller)` + `discard_broken_map(controller)`.
- play: `active_notes()`, `panic()`; clock: `clock_state()`, `set_follow_clock`, `set_follow_transport`.
- clock out: `open_virtual_output(name)` (never listed among inputs, never followed) for a
  `clock_out.ClockOut` sender thread (24-ppq clock, start/stop/continue, song position).
- targets: `catalog` lists every bindable name with its label and ParamSpec; `set_catalog(catalog)` after
  a model switch (keep the sink pointing at the live mailbox, e.g. with a forwarding sink);
  `ActionMailbox.sync_prompt_weight` tells soft takeover about weights set from the GUI.

Threads: for rtmidi backends one "midi-poll" thread drains every input each millisecond (no Python runs
in the MIDI system's own thread: under JACK that thread is JACK's process thread, see rtmidi_poll.py);
other backends call back from their own threads. Either way the router only translates and stores the
newest value into the sink. One housekeeping thread glides smoothed bindings and rescans ports for
hot-plug (every `scan_interval_s`; never while no MIDI system is open: then it sleeps). Every public
method above is for the caller's (GUI) thread.
"""

from lmd_studio.midi.backend import JACK_BACKEND, MidiBackendError, resolve_backend_name
from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.midi.clock import ClockConfig, ClockState
from lmd_studio.midi.keyboard import KeyboardConfig
from lmd_studio.midi.learn import LearnState
from lmd_studio.midi.mapfile import MidiMap, MidiMapError
from lmd_studio.midi.ports import PortStatus, list_midi_ports
from lmd_studio.midi.service import BindingInfo, MidiConfig, MidiEvent, MidiPoll, MidiService
from lmd_studio.midi.sink import ControlSink, MailboxSink
from lmd_studio.midi.targets import TargetCatalog, TargetInfo

__all__ = [
    "JACK_BACKEND", "Binding", "BindingInfo", "ClockConfig", "ClockState", "ControlSink", "KeyboardConfig",
    "LearnState", "MailboxSink", "MidiBackendError", "MidiConfig", "MidiEvent", "MidiMap", "MidiMapError",
    "MidiPoll", "MidiService", "MidiSource", "PortStatus", "TargetCatalog", "TargetInfo", "list_midi_ports",
    "resolve_backend_name",
]
