"""Audio output: sounddevice streams with device supervision, and a Null backend that paces in software."""
