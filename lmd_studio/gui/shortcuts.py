"""Every keyboard shortcut in one table: the window installs them, the menus and the help show them."""

from __future__ import annotations

from lmd_studio.gui.scenes import VISIBLE_SCENES

# (action name, key sequences, menu text)
SHORTCUTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("play", ("Space",), "Play / stop"),
    ("record", ("R",), "Record on/off"),
    ("capture_30", ("C",), "Keep the last 30 s"),
    ("capture_60", ("Shift+C",), "Keep the last 1 min"),
    ("capture_300", ("Ctrl+Shift+C",), "Keep the last 5 min"),
    ("save_selection", ("Ctrl+S",), "Save the selected stretch"),
    ("loop_1", (), "Keep the last bar as a loop"),
    ("loop_2", (), "Keep the last 2 bars as a loop"),
    ("loop_4", ("L",), "Keep the last 4 bars as a loop"),
    ("loop_8", ("Shift+L",), "Keep the last 8 bars as a loop"),
    ("loop_16", (), "Keep the last 16 bars as a loop"),
    ("reset", ("Ctrl+N",), "Fresh start"),
    ("panic", ("Esc",), "Panic: fade out and stop"),
    ("reroll", ("V",), "New variation (re-roll the seed)"),
    ("zoom_in", ("+", "="), "Zoom in"),
    ("zoom_out", ("-",), "Zoom out"),
    ("spectrogram", ("S",), "Waveform / spectrogram"),
    ("focus_prompt", ("Ctrl+L",), "Type a prompt"),
    ("open_model", ("Ctrl+O",), "Open a model folder…"),
    ("render", ("Ctrl+E",), "Render to a file…"),
    ("settings", ("Ctrl+,",), "Settings…"),
    ("midi_map", ("Ctrl+M",), "MIDI map…"),
    ("help", ("F1",), "Keyboard shortcuts"),
    ("quit", ("Ctrl+Q",), "Quit"),
) + tuple((f"scene_{i}", (str(i + 1),), f"Recall scene {i + 1}") for i in range(VISIBLE_SCENES)) + tuple(
    (f"save_scene_{i}", (f"Ctrl+{i + 1}",), f"Save scene {i + 1}") for i in range(VISIBLE_SCENES))


def shortcuts_html() -> str:
    rows = []
    for name, keys, text in SHORTCUTS:
        if name.startswith(("scene_", "save_scene_")) and not name.endswith("_0"):
            continue
        if name == "scene_0":
            keys, text = (f"1 … {VISIBLE_SCENES}",), "Recall a scene"
        elif name == "save_scene_0":
            keys, text = (f"Ctrl+1 … Ctrl+{VISIBLE_SCENES}",), "Save the mix as a scene"
        rows.append(f"<tr><td><b>{' / '.join(keys)}</b>&nbsp;&nbsp;</td><td>{text}</td></tr>")
    return ("<table>" + "".join(rows) + "</table><p>Tab moves between controls; arrows and PageUp/PageDown "
            "turn a focused knob. Typing in a prompt box takes the keys until Enter or Esc.</p>")
