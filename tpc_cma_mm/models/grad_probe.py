"""Per-loss gradient probe of the TPC curriculum, run inside the training step.

mmengine zeroes gradients before ``after_train_iter`` hooks run (STACK.md,
trap 7), and ``p.grad`` only ever holds the *combined* gradient. So the model
measures the gradient of each raw loss on a small shared parameter subset with
``torch.autograd.grad(..., retain_graph=True)`` while the graph is alive, in
its ``loss`` forward. That place is also the one that works under DDP:
mmengine's ``MMDistributedDataParallel.train_step`` never calls the wrapped
model's ``train_step``, but it does call its forward.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import nn

from tpc_cma_mm.utils import world_size

__all__ = ['GradProbe', 'select_params']


def select_params(model: nn.Module,
                  prefixes: Sequence[str]) -> List[Tuple[str, nn.Parameter]]:
    """Trainable parameters named ``prefix`` or ``prefix.<anything>``."""
    chosen = [(name, p) for name, p in model.named_parameters()
              if p.requires_grad and any(
                  name == pre or name.startswith(pre + '.') for pre in prefixes)]
    if not chosen:
        raise ValueError(
            f'probe_params {list(prefixes)} match no trainable parameter of '
            f'{type(model).__name__}; name modules or parameters of the model '
            "(default: the projection heads 'visual_proj', 'text_projection').")
    return chosen


class GradProbe:
    """Gradients of the raw contrastive and CMA losses on a parameter subset.

    Not a registered module: ``TPCCurriculumHook`` builds one from its own
    config and attaches it as ``model.grad_probe``; ``DualEncoder.loss`` calls
    it every step, and it measures only in steps where the hook ``armed`` it.

    Under DDP each rank's ``autograd.grad`` of the (identical) gathered loss
    holds ``world_size`` times its local samples' share (the gather's backward
    sums over ranks), so the probe averages the gradients over ranks, exactly
    as DDP averages ``p.grad``: every rank sees the single-process numbers.

    Args:
        param_prefixes (sequence of str): Parameters (or modules) to probe.
        pcgrad (bool): When the two gradients conflict (cosine < 0) and
            alpha > 0, add a zero-valued term to the loss whose gradient turns
            the subset's combined gradient (1 - a) g_con + a g_cma into the
            PCGrad one: each gradient minus its projection on the other.
            Applied in the probed steps only (every K-th; K = 1 for every step).
    """

    def __init__(self, param_prefixes: Sequence[str] = ('visual_proj', 'text_projection'),
                 pcgrad: bool = False):
        self.param_prefixes = tuple(param_prefixes)
        self.pcgrad = bool(pcgrad)
        self.armed = False
        self.stats: Optional[Dict[str, float]] = None
        self._params: Optional[List[nn.Parameter]] = None

    def params(self, model: nn.Module) -> List[nn.Parameter]:
        if self._params is None:
            self._params = [p for _, p in select_params(model, self.param_prefixes)]
        return self._params

    def _flat_grad(self, loss: torch.Tensor, params: List[nn.Parameter]) -> torch.Tensor:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).double()
                          for g, p in zip(grads, params)])

    def __call__(self, model: nn.Module, loss_con: torch.Tensor,
                 loss_cma: torch.Tensor, alpha: float):
        """Measure if armed; returns a zero-valued term to add to the loss."""
        if not (self.armed and torch.is_grad_enabled()):
            return 0.0
        self.armed = False
        params = self.params(model)
        both = torch.stack([self._flat_grad(loss_con, params),
                            self._flat_grad(loss_cma, params)])
        if world_size() > 1:
            dist.all_reduce(both)
            both = both / world_size()
        g_con, g_cma = both
        sq_con, sq_cma, dot = g_con @ g_con, g_cma @ g_cma, g_con @ g_cma
        norm_con, norm_cma = sq_con.sqrt(), sq_cma.sqrt()
        denom = norm_con * norm_cma
        cos = dot / denom if denom > 0 else torch.zeros_like(dot)
        self.stats = dict(grad_con=norm_con.item(), grad_cma=norm_cma.item(),
                          grad_cos=cos.item(), pcgrad=0.0)
        if not (self.pcgrad and alpha > 0 and dot < 0):
            return 0.0
        # desired - actual combined gradient on the subset (PCGrad, both ways)
        delta = -(1 - alpha) * dot / sq_cma * g_cma - alpha * dot / sq_con * g_con
        surrogate, start = 0.0, 0
        for p in params:
            piece = delta[start:start + p.numel()].view_as(p).to(p.dtype)
            surrogate = surrogate + (piece * p).sum()
            start += p.numel()
        self.stats['pcgrad'] = 1.0
        return surrogate - surrogate.detach()
