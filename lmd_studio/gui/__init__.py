"""The desktop instrument's Qt interface (PySide6 + pyqtgraph). It talks only to `app.Session` and the
value types it returns; it never touches the engine, the model, audio devices or MIDI ports directly."""
