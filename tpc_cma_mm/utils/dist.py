"""Distributed helpers that work on CPU (gloo) and GPU (nccl) alike."""
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
# The model inside a DDP / FSDP / DeepSpeed wrapper: the package's one unwrap
# helper is mmpretrain's.
from mmpretrain.utils import get_ori_model as unwrap_model

__all__ = ['all_reduce_mean', 'any_rank', 'gather_with_grad', 'rank', 'unwrap_model',
           'world_size']


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0, keeping gradients.

    The backward pass sums the incoming gradients over ranks, so a loss that
    every rank computes on the global batch, followed by DDP's gradient
    averaging, yields exactly the gradient of one process holding the whole
    batch (docs/pitfalls.md, "Gathers with gradients").
    """
    if world_size() == 1:
        return tensor
    return torch.cat(dist_nn.all_gather(tensor.contiguous()), dim=0)


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over ranks (what DDP does to ``p.grad``); no gradient."""
    if world_size() == 1:
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor / world_size()


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` holds on any rank (every rank must call it)."""
    if world_size() == 1:
        return flag
    value = torch.tensor(float(flag), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
