"""Evaluation: what `lmd eval` measures of a model (data, the frozen embedding spaces, generation, metrics,
musical meters, plots, reports) and what `lmd codec eval` measures of a codec. The recipes' in-training
monitors (`long_rollout.py`, `frechet.py`) stay beside the recipes that run them."""
