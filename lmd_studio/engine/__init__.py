"""The generation engine: worker thread, commands, metrics, output stage (callback body), capture, recorder."""
