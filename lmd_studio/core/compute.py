"""What a model runs on, as plain values: the About box and a problem report show it without torch.

A generator that runs a network (model/generator.py) reports the CPU features it was set up for; the test
tones run none and do not implement `ReportsCompute`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ComputeInfo:
    """`isa`: torch's kernel dispatch level ("AVX2", "AVX512", "DEFAULT", …); `onednn`: packed fp32 linears;
    `bf16_supported`: this CPU runs oneDNN bf16; `dtype`: what the network computes in ("float32",
    "bfloat16"); `threads`: torch's intra-op threads now; `device`: "cpu" or the accelerator."""

    device: str
    isa: str
    onednn: bool
    bf16_supported: bool
    dtype: str
    threads: int
    torch_version: str = ""

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"ComputeInfo.threads must be >= 1, got {self.threads}")

    @property
    def avx2(self) -> bool:
        return self.isa.upper().startswith(("AVX2", "AVX512"))

    @property
    def avx512(self) -> bool:
        return self.isa.upper().startswith("AVX512")

    @property
    def bf16_in_use(self) -> bool:
        return self.dtype == "bfloat16"

    def summary(self) -> str:
        """One line: "CPU AVX2 (AVX-512 no) · oneDNN yes · bf16 not supported · float32 · 2 threads"."""
        if self.device != "cpu":
            return f"{self.device} · {self.dtype} · {self.threads} CPU thread{'s' if self.threads != 1 else ''}"
        bf16 = "in use" if self.bf16_in_use else ("supported, not used" if self.bf16_supported else "not supported")
        return (f"CPU {self.isa} (AVX2 {_yes(self.avx2)}, AVX-512 {_yes(self.avx512)}) · oneDNN {_yes(self.onednn)}"
                f" · bf16 {bf16} · computes in {self.dtype} · {self.threads} torch thread"
                f"{'s' if self.threads != 1 else ''}")


@runtime_checkable
class ReportsCompute(Protocol):
    """A generator that can say what it computes on (the torch model; not the test tones)."""

    def compute_info(self) -> ComputeInfo: ...


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
