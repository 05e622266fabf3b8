"""CPU features decide the code path: an AVX2-only CPU (no oneDNN bf16) never takes the bf16 path, and what
it runs instead is exactly the fp32 path. The CPU is injected, so this runs the same on any machine; the
real AVX2 run of the model tests is test_avx2_capped.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.cpu_features import CpuFeatures, bf16_fallback_note, probe_cpu_features
from lmd_studio.model.fast_linear import FastLinear
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.model_io import GeneratorConfig
from lmd_studio.model.text_encoder import FakeTextEncoder
from tests.model.lmdm_support import LinearTestCodec, text_for, tiny_dit

torch.set_num_threads(1)
HOST = probe_cpu_features()
# the users' laptops: AVX2, oneDNN for packed fp32, no bf16 (what ATEN_CPU_CAPABILITY=avx2
# ONEDNN_MAX_CPU_ISA=AVX2 gives on this machine); onednn as the host has it, so the fp32 pack is exercised
AVX2_LAPTOP = CpuFeatures(isa="AVX2", onednn=HOST.onednn, bf16_matmul=False)
NO_ONEDNN = CpuFeatures(isa="DEFAULT", onednn=False, bf16_matmul=False)


def _avx2() -> CpuFeatures:
    return AVX2_LAPTOP


def test_probe_reports_torchs_own_checks() -> None:
    assert HOST.isa == torch.backends.cpu.get_cpu_capability()
    assert HOST.onednn == (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise"))
    assert HOST.bf16_matmul == (HOST.onednn and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert HOST.avx512 <= HOST.avx2  # AVX512 implies AVX2


def test_features_choose_dtypes() -> None:
    assert AVX2_LAPTOP.avx2 and not AVX2_LAPTOP.avx512
    assert AVX2_LAPTOP.inference_dtype(torch.bfloat16) == torch.float32
    assert AVX2_LAPTOP.inference_dtype(torch.float32) == torch.float32
    assert AVX2_LAPTOP.bf16_skip_reason is not None and "(AVX2)" in AVX2_LAPTOP.bf16_skip_reason
    assert bf16_fallback_note(torch.bfloat16, AVX2_LAPTOP).startswith("bf16: not supported on this CPU (AVX2)")
    assert bf16_fallback_note(torch.float32, AVX2_LAPTOP) is None
    server = CpuFeatures(isa="AVX512", onednn=True, bf16_matmul=True)
    assert server.avx512 and server.bf16_skip_reason is None
    assert server.packed_dtype(torch.bfloat16) == server.inference_dtype(torch.bfloat16) == torch.bfloat16
    assert bf16_fallback_note(torch.bfloat16, server) is None
    assert NO_ONEDNN.packed_dtype(torch.float32) is None and NO_ONEDNN.packed_dtype(torch.bfloat16) is None
    assert "no oneDNN" in NO_ONEDNN.bf16_skip_reason
    with pytest.raises(ValueError, match="needs onednn"):
        CpuFeatures(isa="AVX512", onednn=False, bf16_matmul=True)


@pytest.mark.parametrize("features", [AVX2_LAPTOP, NO_ONEDNN], ids=["avx2", "no-onednn"])
def test_fast_linear_bf16_request_runs_the_fp32_path(features: CpuFeatures) -> None:
    torch.manual_seed(0)
    layer = FastLinear(256, 512)
    x, res = torch.randn(2, 9, 256), torch.randn(2, 9, 512)
    layer.set_inference_dtype(torch.float32, features=features)
    with torch.inference_mode():
        want = layer(x, residual=res)
    layer.set_inference_dtype(torch.bfloat16, features=features)
    assert layer.pack_dtype == (torch.float32 if features.onednn else None)  # never bf16
    with torch.inference_mode():
        got = layer(x, residual=res)
    assert got.dtype == torch.float32
    assert torch.equal(got, want)
    torch.testing.assert_close(got, F.linear(x, layer.weight, layer.bias) + res, atol=1e-5, rtol=1e-5)


def test_dit_for_inference_bf16_on_avx2_is_the_fp32_network() -> None:
    dit = tiny_dit(seed=1)
    net = dit.for_inference(torch.bfloat16, probe=_avx2)
    assert net is dit and net.compute_dtype == torch.float32  # no bf16 twin
    packed = {m.pack_dtype for m in net.modules() if isinstance(m, FastLinear)}
    assert torch.bfloat16 not in packed
    text = text_for(net)
    x = torch.randn(1, net.cfg.window_frames, net.cfg.latent_channels, generator=torch.Generator().manual_seed(0))
    t = torch.full((1,), 0.5)
    with torch.inference_mode():
        got = net(x, t, text)
        want = tiny_dit(seed=1).for_inference(torch.float32, probe=_avx2)(x, t, text)
    assert torch.equal(got, want)


def _blocks(gen: TorchBlockGenerator, n: int = 3) -> list[np.ndarray]:
    controls = BlockControls(values={"steps": 2}, prompts=(PromptSlot("slow organ chorale", 1.0),))
    state, out = gen.init_state(7), []
    for _ in range(n):
        audio, state = gen.generate_block(state, controls)
        out.append(audio)
    return out


def test_generator_bf16_on_avx2_says_so_once_and_equals_fp32() -> None:
    def make(dtype: torch.dtype) -> TorchBlockGenerator:
        dit = tiny_dit(seed=4)
        return TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                                   config=GeneratorConfig("blockcausal", "pingpong"), inference_dtype=dtype,
                                   cpu_probe=_avx2)

    bf16, fp32 = make(torch.bfloat16), make(torch.float32)
    assert bf16.dtype_note is not None and "not supported on this CPU (AVX2)" in bf16.dtype_note
    assert "running in fp32" in bf16.dtype_note and "\n" not in bf16.dtype_note
    assert fp32.dtype_note is None
    assert bf16.dit.compute_dtype == torch.float32
    for a, b in zip(_blocks(bf16), _blocks(fp32), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_generator_reports_the_cpu_features_it_runs_with() -> None:
    """What the About box shows is what the model was set up with: the probed CPU, the dtype its network
    really computes in (bf16 asked for on an AVX2 laptop → float32) and torch's threads."""

    def make(dtype: torch.dtype, probe) -> TorchBlockGenerator:
        dit = tiny_dit(seed=4)
        return TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                                   config=GeneratorConfig("blockcausal", "pingpong"), inference_dtype=dtype,
                                   cpu_probe=probe, threads=1)

    laptop = make(torch.bfloat16, _avx2).compute_info()
    assert (laptop.device, laptop.isa, laptop.bf16_supported, laptop.dtype) == ("cpu", "AVX2", False, "float32")
    assert laptop.avx2 and not laptop.avx512 and not laptop.bf16_in_use and laptop.threads == 1
    assert "bf16 not supported" in laptop.summary() and "AVX-512 no" in laptop.summary()
    plain = make(torch.float32, lambda: NO_ONEDNN).compute_info()
    assert not plain.avx2 and not plain.onednn and "oneDNN no" in plain.summary()
    if HOST.bf16_matmul:  # a CPU that runs bf16: asked for, it is what the network computes in
        server = make(torch.bfloat16, probe_cpu_features).compute_info()
        assert server.bf16_in_use and "bf16 in use" in server.summary()
