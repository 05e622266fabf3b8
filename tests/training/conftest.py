"""Fixtures for the training tests (the diffusion recipes share one tiny corpus + codec + latents)."""

from __future__ import annotations

import pytest
import torch

from tests.training.diffusion_support import TinySetup, build_tiny_setup


@pytest.fixture(scope="session")
def diffusion_tiny(tmp_path_factory) -> TinySetup:
    torch.set_num_threads(1)
    return build_tiny_setup(tmp_path_factory.mktemp("diffusion"))
