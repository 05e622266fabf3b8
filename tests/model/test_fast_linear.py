"""FastLinear: the oneDNN packed path computes what F.linear computes, and stays out of training's way."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from lmd_studio.model.cpu_features import probe_cpu_features
from lmd_studio.model.fast_linear import FastLinear, set_inference_dtype

torch.set_num_threads(1)
CPU = probe_cpu_features()
pytestmark = pytest.mark.skipif(not CPU.onednn, reason="this torch build has no oneDNN")


def _layer(activation: str = "none", d_in: int = 256, d_out: int = 512) -> FastLinear:
    torch.manual_seed(0)
    return FastLinear(d_in, d_out, activation=activation)


@pytest.mark.parametrize("activation", ["none", "gelu"])
@pytest.mark.parametrize("rows", [1, 17, 33])
def test_packed_fp32_equals_f_linear(activation: str, rows: int) -> None:
    layer = _layer(activation)
    x, res = torch.randn(1, rows, 256), torch.randn(1, rows, 512)
    ref = F.linear(x, layer.weight, layer.bias)
    ref = F.gelu(ref) if activation == "gelu" else ref
    layer.set_inference_dtype(torch.float32)
    with torch.inference_mode():
        assert layer.pack_dtype == torch.float32
        torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(layer(x, residual=res), ref + res, atol=1e-5, rtol=1e-5)
        assert rows in layer.packed_row_counts


@pytest.mark.skipif(not CPU.bf16_matmul, reason=f"bf16 {CPU.bf16_skip_reason} (test_cpu_features.py covers "
                                                  f"the fp32 fallback)")
def test_bf16_is_close_and_returns_fp32() -> None:
    layer = _layer()
    x = torch.randn(2, 9, 256)
    ref = F.linear(x, layer.weight, layer.bias)
    layer.set_inference_dtype(torch.bfloat16)
    assert layer.pack_dtype == torch.bfloat16  # this CPU runs bf16: the packed bf16 path is what is tested
    with torch.inference_mode():
        y = layer(x, residual=torch.zeros_like(ref))
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, ref, atol=0.05, rtol=0.02)


def test_packs_follow_weight_changes_and_copies() -> None:
    layer = _layer()
    layer.set_inference_dtype(torch.float32)
    x = torch.randn(1, 5, 256)
    with torch.inference_mode():
        layer(x)
    new = {k: torch.randn_like(v) for k, v in layer.state_dict().items()}
    layer.load_state_dict(new)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), F.linear(x, new["weight"], new["bias"]), atol=1e-5, rtol=1e-5)
        twin = copy.deepcopy(layer)
        clone = pickle.loads(pickle.dumps(layer))
        torch.testing.assert_close(twin(x), layer(x))
        torch.testing.assert_close(clone(x), layer(x))


def test_training_uses_autograd_and_small_layers_stay_on_f_linear() -> None:
    layer = _layer()
    set_inference_dtype(layer, torch.float32)
    x = torch.randn(3, 256, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and layer.weight.grad is not None
    small = FastLinear(16, 32)
    small.set_inference_dtype(torch.float32)
    assert small.pack_dtype is None
    with pytest.raises(ValueError):
        small.set_inference_dtype(torch.float16)
