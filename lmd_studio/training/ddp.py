"""Data parallelism under `torchrun`: process group set-up, weight broadcast, gradient and metric averaging.

Every recipe runs unchanged as one process or as N replicas (`torchrun --nproc-per-node N -m lmd_studio.cli
train …`): gloo on CPUs, NCCL on GPUs. Each replica draws its own share of the global batch (the batch is
keyed by rank), the replicas start from rank 0's weights, and after every backward pass the gradients are
averaged with one bucketed all-reduce — the same collective PyTorch's DistributedDataParallel issues. We
call it directly rather than wrapping the module in DDP because ARC-Forcing runs several differently-shaped
forward passes (a self-rollout) before one backward, which DDP's one-forward-per-backward reducer rejects.
Metrics are averaged too, so every replica takes the same decisions (NaN stop, best checkpoint, time limit).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True, slots=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str | None = None) -> DistInfo:
    """Join the process group torchrun described in the environment (a no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if world <= 1:
        return DistInfo(device=torch.device(want))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if want.startswith("cuda"):
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
        backend = "nccl"
    else:
        dev = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_parameters(modules: Iterable[torch.nn.Module], info: DistInfo) -> None:
    """Make every replica start from rank 0's weights and buffers."""
    if not info.enabled:
        return
    with torch.no_grad():
        for module in modules:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)


def average_gradients(params: Iterable[torch.nn.Parameter], info: DistInfo) -> None:
    """All-reduce (mean) every gradient in one flat bucket; a missing gradient counts as zero."""
    if not info.enabled:
        return
    params = [p for p in params if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])  # [sum of sizes]
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def average_metrics(metrics: dict[str, float], info: DistInfo) -> dict[str, float]:
    """The mean of each metric over replicas (same keys on every rank)."""
    if not info.enabled:
        return metrics
    keys = sorted(metrics)
    t = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return {k: float(v) / info.world_size for k, v in zip(keys, t.tolist())}


def agree_any(flag: bool, info: DistInfo) -> bool:
    """True on every replica if it is True on any (e.g. one replica passed the time limit)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def replica_checksums(module: torch.nn.Module, info: DistInfo) -> list[list[float]]:
    """[sum, sum of squares] of every replica's parameters (rank order): equal lists mean equal replicas."""
    with torch.no_grad():
        flat = torch.cat([p.detach().double().reshape(-1) for p in module.parameters()])
        mine = torch.stack([flat.sum(), flat.pow(2).sum()]).to(info.device)
    if not info.enabled:
        return [mine.tolist()]
    out = [torch.zeros_like(mine) for _ in range(info.world_size)]
    dist.all_gather(out, mine)
    return [t.tolist() for t in out]
