"""Samplers on oracle denoisers (straight-line flows) where the right answer is known exactly."""

from __future__ import annotations

import math

import pytest
import torch

from lmd_studio.model.samplers import (
    SamplerSpec,
    flow_interpolate,
    flow_velocity_target,
    logsnr_schedule,
    sample_euler,
    sample_ping_pong,
    sample_ping_pong_pp,
    sample_train_times,
    x0_from_velocity,
)

X0 = torch.tensor([[0.5, -1.0, 2.0]])


def oracle(target: torch.Tensor):  # noqa: ANN201
    """The exact velocity field of a flow towards a point mass at `target`: v = (x - x0) / t."""

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        return (x - target) / max(t, 1e-12)

    return velocity


@pytest.mark.parametrize("steps", [1, 2, 8, 16])
def test_logsnr_schedule(steps: int) -> None:
    ts = logsnr_schedule(steps)
    assert len(ts) == steps + 1 and ts[0] == 1.0 and ts[-1] == 0.0
    assert all(a > b for a, b in zip(ts, ts[1:]))
    for i in range(1, steps):
        logsnr = -6.0 + 8.0 * i / steps
        assert math.isclose(ts[i], 1.0 / (1.0 + math.exp(logsnr)), rel_tol=1e-12)
    with pytest.raises(ValueError):
        logsnr_schedule(0)


@pytest.mark.parametrize("sampler", [sample_euler, sample_ping_pong, sample_ping_pong_pp])
@pytest.mark.parametrize("steps", [1, 3, 8])
def test_samplers_land_on_the_data_point(sampler, steps: int) -> None:  # noqa: ANN001
    v = oracle(X0)
    x = sampler(lambda x, t: (v(x, t), None), torch.randn(1, 3), logsnr_schedule(steps))
    torch.testing.assert_close(x, X0, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("sampler", [sample_euler, sample_ping_pong, sample_ping_pong_pp])
def test_cfg_extrapolates_between_conditional_and_unconditional(sampler) -> None:  # noqa: ANN001
    a, b = X0, torch.tensor([[1.0, 1.0, 1.0]])
    va, vb = oracle(a), oracle(b)
    g = 2.5
    kwargs = {"carry": 1.0} if sampler is sample_ping_pong_pp else {}
    x = sampler(lambda x, t: (va(x, t), vb(x, t)), torch.randn(1, 3), logsnr_schedule(4), guidance=g, **kwargs)
    torch.testing.assert_close(x, b + g * (a - b), atol=1e-4, rtol=1e-4)


def test_callback_sees_every_step_and_ping_pong_uses_fresh_noise() -> None:
    seen: list[tuple[int, float]] = []
    v = oracle(X0)
    gen = torch.Generator().manual_seed(0)
    sample_ping_pong(lambda x, t: (v(x, t) + 0.1, None), torch.randn(1, 3), logsnr_schedule(5), generator=gen,
                     callback=lambda i, t, x, x0: seen.append((i, t)))
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert [t for _, t in seen] == logsnr_schedule(5)[:-1]
    biased = lambda x, t: (0.5 * v(x, t), None)  # noqa: E731 — an imperfect denoiser: x̂0 depends on the noise
    r1 = sample_ping_pong(biased, torch.ones(1, 3), logsnr_schedule(3), generator=torch.Generator().manual_seed(1))
    r2 = sample_ping_pong(biased, torch.ones(1, 3), logsnr_schedule(3), generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(r1, r2)


def test_spec_temperature_scales_initial_noise_and_validates() -> None:
    zero = lambda x, t: (torch.zeros_like(x), None)  # noqa: E731 — v = 0: Euler returns its start
    a = SamplerSpec("euler", 2, temperature=1.0).run(zero, (1, 1000), torch.Generator().manual_seed(3))
    b = SamplerSpec("euler", 2, temperature=0.5).run(zero, (1, 1000), torch.Generator().manual_seed(3))
    torch.testing.assert_close(b, 0.5 * a)
    assert not SamplerSpec(guidance=1.0).uses_cfg and SamplerSpec(guidance=3.0).uses_cfg
    for bad in ({"name": "ddim"}, {"steps": 0}, {"temperature": 0.0}, {"guidance": -1.0}):
        with pytest.raises(ValueError):
            SamplerSpec(**bad)
    with pytest.raises(ValueError):
        sample_ping_pong_pp(zero, torch.zeros(1, 2), [1.0, 0.0], carry=2.0)


def test_flow_matching_helpers_are_consistent() -> None:
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 5, 3, generator=gen), torch.randn(4, 5, 3, generator=gen)
    t = sample_train_times(4, gen)
    assert bool(((t > 0) & (t < 1)).all())
    xt = flow_interpolate(x0, eps, t)
    v = flow_velocity_target(x0, eps)
    torch.testing.assert_close(x0_from_velocity(xt, t, v), x0)
    torch.testing.assert_close(xt, (1 - t[:, None, None]) * x0 + t[:, None, None] * eps)
