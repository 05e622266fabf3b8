"""LMD Studio: a live generative music instrument driven by a streaming diffusion model."""

__version__ = "0.1.0"
