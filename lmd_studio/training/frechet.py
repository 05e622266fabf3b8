"""Fréchet distance between two sets of embeddings (the FD of FAD/FID, in any embedding space)."""

from __future__ import annotations

import numpy as np
from scipy import linalg


def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [d] and covariance [d, d] of `x` [n, d] (n >= 2)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 embeddings of shape [n, d], got {x.shape}")
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """||μa − μb||² + Tr(Σa + Σb − 2 (Σa Σb)^½). With few samples the covariances are singular, so
    `eps` is added to both diagonals (as FID implementations do) — the same for every comparison."""
    mu_a, cov_a = gaussian_stats(a)
    mu_b, cov_b = gaussian_stats(b)
    d = mu_a.shape[0]
    cov_a = np.atleast_2d(cov_a) + eps * np.eye(d)
    cov_b = np.atleast_2d(cov_b) + eps * np.eye(d)
    covmean = np.real(linalg.sqrtm(cov_a @ cov_b))
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return max(0.0, value)
