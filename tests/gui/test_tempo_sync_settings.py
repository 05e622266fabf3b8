"""Settings → MIDI offers MIDI clock out and Ableton Link (issue 16), both off unless chosen."""

from __future__ import annotations


def test_clock_out_and_link_are_checkboxes_on_the_midi_tab(qtbot, tmp_path) -> None:
    from lmd_studio.gui.settings_dialog import SettingsDialog
    from lmd_studio.settings.schema import MidiSettings, StudioSettings

    dialog = SettingsDialog(StudioSettings(), [], [], tmp_path)
    qtbot.addWidget(dialog)
    assert not dialog.clock_out.isChecked() and not dialog.link.isChecked()
    dialog.clock_out.setChecked(True)
    dialog.link.setChecked(True)
    midi = dialog.result_settings().midi
    assert midi.clock_out and midi.link
    again = SettingsDialog(StudioSettings(midi=MidiSettings(clock_out=True)), [], [], tmp_path)
    qtbot.addWidget(again)
    assert again.clock_out.isChecked() and not again.link.isChecked()
