"""A Linear layer that runs inference on oneDNN with pre-packed weights on the CPU.

Why: a streaming DiT multiplies 17–81 tokens by each weight matrix per step. Through `F.linear` (MKL sgemm,
which takes a generic AVX2 path on AMD CPUs) such small matrices reach ≈ 90–180 GFLOP/s on 2 cores; oneDNN
with the weight re-ordered once for the row count reaches ≈ 250–450 (measured, `lmd bench model`). The
same oneDNN call also fuses GELU or the residual add into the matmul, saving a pass over memory.

Packing is an inference-only cache: it is used when `set_inference_dtype()` enabled it, autograd is off,
and the input is on a CPU; it is rebuilt when the weights change (load_state_dict). Training, GPUs and
builds without oneDNN use plain `F.linear`, which computes the same function (tests check both agree).
In bf16 mode the weights are packed as bf16 and the activations are cast to bf16 for the matmul only; the
output comes back in the input's dtype so norms, softmax and the residual stream stay fp32. Which dtype a
layer really packs in is the CPU's call (cpu_features.py): a bf16 request packs fp32 on CPUs whose oneDNN
cannot reorder bf16 weights (AVX2 without AVX512/AMX), instead of raising there.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmd_studio.model.cpu_features import CpuFeatures, CpuProbe, probe_cpu_features

Activation = Literal["none", "gelu"]

_MAX_PACKS = 8  # distinct row counts kept per layer (a stream uses 3–6)
# below this many weights a oneDNN call's fixed cost (≈ 12 µs vs ≈ 5 µs) outweighs its faster kernel
_MIN_PACK_WEIGHTS = 65536


class FastLinear(nn.Linear):
    """`nn.Linear` + optional fused GELU and fused residual add: `y = act(x Wᵀ + b) (+ residual)`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 activation: Activation = "none") -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.activation: Activation = activation
        self._pack_dtype: torch.dtype | None = None
        self._packs: OrderedDict[int, tuple[torch.Tensor, torch.Tensor | None]] = OrderedDict()
        self._packed_version: tuple[int, ...] | None = None
        self._pack_rows: int | None = None

    def set_inference_dtype(self, dtype: torch.dtype | None, pack_rows: int | None = None,
                            features: CpuFeatures | None = None) -> None:
        """None: always F.linear. float32 / bfloat16: oneDNN packed weights in that dtype (large layers only;
        bf16 only where `features` — probed now when None — say the CPU runs it, else fp32).

        `pack_rows`: pack once, tuned for that many rows, and use it for every row count (one copy of the
        weights in cache); None: one pack per row count seen (each tuned, but the copies compete for cache).
        """
        if dtype not in (None, torch.float32, torch.bfloat16):
            raise ValueError(f"FastLinear: unsupported inference dtype {dtype}")
        self._pack_rows = pack_rows
        big = self.in_features * self.out_features >= _MIN_PACK_WEIGHTS
        cpu = features or probe_cpu_features()
        self._pack_dtype = cpu.packed_dtype(dtype) if big else None
        self._packs.clear()

    @property
    def pack_dtype(self) -> torch.dtype | None:
        """The dtype of the packed oneDNN path at inference; None: plain F.linear."""
        return self._pack_dtype

    @property
    def packed_row_counts(self) -> tuple[int, ...]:
        """Row counts that have a packed weight copy cached now, oldest first."""
        return tuple(self._packs)

    def __getstate__(self) -> dict:
        # packed oneDNN tensors are opaque: copies and pickles re-pack lazily instead of carrying them
        state = self.__dict__.copy()
        state["_packs"] = OrderedDict()
        state["_packed_version"] = None
        return state

    def _apply(self, fn, recurse=True):  # noqa: ANN001 — nn.Module's signature; .to()/.cuda() invalidate packs
        self._packs.clear()
        self._packed_version = None
        return super()._apply(fn, recurse)

    def _packed(self, rows: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        rows = self._pack_rows or rows
        w = self.weight
        if w.is_inference():  # created under inference_mode: no version counter, identity must do
            version: tuple[int, ...] = (w.data_ptr(),)
        else:
            version = (w.data_ptr(), w._version, self.bias._version if self.bias is not None else 0)
        if version != self._packed_version:
            self._packs.clear()
            self._packed_version = version
        hit = self._packs.get(rows)
        if hit is None:
            w = self.weight.detach().to(self._pack_dtype)
            b = None if self.bias is None else self.bias.detach().to(self._pack_dtype)
            hit = (torch.ops.mkldnn._reorder_linear_weight(w, rows), b)  # layout tuned for this row count
            self._packs[rows] = hit
            if len(self._packs) > _MAX_PACKS:
                self._packs.popitem(last=False)
        return hit

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        dtype = self._pack_dtype
        if dtype is None or x.device.type != "cpu" or torch.is_grad_enabled():
            y = F.linear(x, self.weight, self.bias)
            if self.activation == "gelu":
                y = F.gelu(y)
            return y if residual is None else residual + y
        rows = x.numel() // x.shape[-1]
        w, b = self._packed(rows)
        xin = x if x.dtype == dtype else x.to(dtype)
        op = torch.ops.mkldnn._linear_pointwise
        if residual is not None and dtype == residual.dtype and self.activation == "none":
            return op.binary(xin, residual, w, b, "add")  # matmul + bias + residual in one pass
        y = op(xin, w, b, self.activation, [], "none" if self.activation == "gelu" else "")
        if y.dtype != x.dtype:
            y = y.to(x.dtype)
        return y if residual is None else residual + y


def set_inference_dtype(module: nn.Module, dtype: torch.dtype | None, pack_rows: int | None = None,
                        probe: CpuProbe = probe_cpu_features) -> None:
    """Switch every FastLinear inside `module` (None turns packing off, e.g. before training)."""
    features = probe()  # once per module, not per layer
    for m in module.modules():
        if isinstance(m, FastLinear):
            m.set_inference_dtype(dtype, pack_rows, features)
