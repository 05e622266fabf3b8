"""User settings, scenes and prompt history on disk (platformdirs paths, versioned JSON, never a crash on
a broken file). Qt-free: the GUI edits `StudioSettings` values through `app.Session`."""
