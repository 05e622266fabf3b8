"""What this CPU can run, as torch itself sees it: the one place that decides between bf16, packed fp32
and plain F.linear.

Why a probe and not `torch.backends.mkldnn.is_available()`: oneDNN is present on every x86 build, but its
bf16 weight reorder needs AVX512 (bw+vl+dq), AVX-NE-CONVERT or AMX. On the AVX2 laptops most users have,
`_reorder_linear_weight(bf16)` raises instead of falling back. We ask torch's own checks (the kernels'
dispatch capability and oneDNN's bf16 check), not /proc/cpuinfo, so `ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2` reproduces such a laptop on any machine (the tests do exactly that).

Code that chooses a path takes a `CpuProbe` (default `probe_cpu_features`) so tests can inject a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True, slots=True)
class CpuFeatures:
    """`isa`: torch's kernel dispatch level ("AVX2", "AVX512", "DEFAULT", ...); `onednn`: packed fp32
    linears (`mkldnn._linear_pointwise`) work; `bf16_matmul`: oneDNN runs bf16 matmuls and weight reorders."""

    isa: str
    onednn: bool
    bf16_matmul: bool

    def __post_init__(self) -> None:
        if self.bf16_matmul and not self.onednn:
            raise ValueError("CpuFeatures: bf16_matmul needs onednn (the bf16 path is oneDNN's)")

    @property
    def avx2(self) -> bool:
        return self.isa.startswith(("AVX2", "AVX512"))

    @property
    def avx512(self) -> bool:
        return self.isa.startswith("AVX512")

    @property
    def bf16_skip_reason(self) -> str | None:
        """None where bf16 runs; else the one line to show (bench output, eval, JSON)."""
        if self.bf16_matmul:
            return None
        if not self.onednn:
            return f"not supported on this CPU ({self.isa}): this torch build has no oneDNN"
        return (f"not supported on this CPU ({self.isa}): oneDNN bf16 needs AVX512 (bw, vl, dq), "
                f"AVX-NE-CONVERT or AMX")

    def packed_dtype(self, requested: torch.dtype | None) -> torch.dtype | None:
        """The dtype FastLinear packs weights in for a request: bf16 only where supported (else the fp32
        pack, which computes the fp32 function), nothing without oneDNN (plain F.linear)."""
        if requested is None or not self.onednn:
            return None
        if requested == torch.bfloat16 and not self.bf16_matmul:
            return torch.float32
        return requested

    def inference_dtype(self, requested: torch.dtype | None) -> torch.dtype | None:
        """The dtype a CPU network runs in for a request: bf16 falls back to float32 where unsupported."""
        if requested == torch.bfloat16 and not self.bf16_matmul:
            return torch.float32
        return requested


CpuProbe = Callable[[], CpuFeatures]


def probe_cpu_features() -> CpuFeatures:
    """This process's CPU as torch dispatches on it (environment caps included)."""
    onednn = bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    try:
        bf16 = onednn and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # older builds without the check: assume the worst
        bf16 = False
    return CpuFeatures(isa=str(torch.backends.cpu.get_cpu_capability()), onednn=onednn, bf16_matmul=bf16)


def bf16_fallback_note(requested: torch.dtype | None, features: CpuFeatures) -> str | None:
    """The one line to log when a bf16 request runs in fp32 on this CPU (None when nothing changes)."""
    if requested != torch.bfloat16 or features.bf16_matmul:
        return None
    return f"bf16: {features.bf16_skip_reason}; running in fp32"
