"""Composition root (bootstrap) and the Qt-free Session the GUI drives; CLI commands that need wiring."""
