"""Distributed helpers that work on CPU (gloo) and GPU (nccl) alike."""
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn

__all__ = ['gather_with_grad', 'world_size']


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0, keeping gradients.

    The backward pass sums the incoming gradients over ranks, so a loss that
    every rank computes on the global batch, followed by DDP's gradient
    averaging, yields exactly the gradient of one process holding the whole
    batch (STACK.md, trap 3).
    """
    if world_size() == 1:
        return tensor
    return torch.cat(dist_nn.all_gather(tensor.contiguous()), dim=0)
