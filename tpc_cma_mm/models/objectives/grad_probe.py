"""Per-loss gradients on a parameter subset, measured inside the training step.

mmengine zeroes gradients before ``after_train_iter`` hooks run, and ``p.grad``
only ever holds the *combined* gradient (docs/pitfalls.md, "Gradients are zeroed"). So the model
measures the gradient of each raw loss on a small shared parameter subset with
``torch.autograd.grad(..., retain_graph=True)`` while the graph is alive, in
its ``loss`` forward. The forward is the one place every training path calls
before the combined loss is formed (plain ``BaseModel.train_step``, mmengine's
DDP / FSDP wrappers and ``FlexibleRunner`` strategies all call the wrapped
model's forward), and ``combine='grad_share'`` needs the norms to form it.
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from tpc_cma_mm.utils.dist import all_reduce_mean

__all__ = ['GradProbe', 'ProbeMeasurement', 'select_params']


def select_params(model: nn.Module,
                  prefixes: Sequence[str]) -> List[Tuple[str, nn.Parameter]]:
    """Trainable parameters named ``prefix`` or ``prefix.<anything>``."""
    chosen = [(name, p) for name, p in model.named_parameters()
              if p.requires_grad and any(
                  name == pre or name.startswith(pre + '.') for pre in prefixes)]
    if not chosen:
        raise ValueError(
            f'model.grad_probe.params {list(prefixes)} match no trainable parameter '
            f'of {type(model).__name__}; name modules or parameters of the model '
            "(default: the projection heads 'visual_proj', 'text_projection').")
    return chosen


class ProbeMeasurement:
    """The rank-averaged flat gradients of the two raw losses on the probed parameters."""

    def __init__(self, params: List[nn.Parameter], grad_con: torch.Tensor,
                 grad_cma: torch.Tensor):
        self.params, self.grad_con, self.grad_cma = params, grad_con, grad_cma
        self.norm_con, self.norm_cma = grad_con.norm(), grad_cma.norm()
        self.dot = grad_con @ grad_cma
        denom = self.norm_con * self.norm_cma
        self.cos = self.dot / denom if denom > 0 else torch.zeros_like(self.dot)

    def log_vars(self) -> Dict[str, torch.Tensor]:
        """Logged values of the loss dict (no "loss" in the names,
        docs/pitfalls.md, "Log keys containing loss")."""
        return dict(probe_grad_con=self.norm_con.float(),
                    probe_grad_cma=self.norm_cma.float(),
                    probe_grad_cos=self.cos.float())


class GradProbe:
    """Gradients of the raw contrastive and CMA losses on a parameter subset.

    Owned by the :class:`AlignmentObjective` (built from the model's
    ``grad_probe`` config), which measures in the steps a curriculum asks it
    to (``set_schedule(probe=True)``)
    and in every step of ``combine='grad_share'``; the measurements leave the
    step in the loss dict (``probe_grad_con``, ``probe_grad_cma``,
    ``probe_grad_cos``).

    Under DDP each rank's ``autograd.grad`` of the (identical) gathered loss
    holds ``world_size`` times its local samples' share (the gather's backward
    sums over ranks), so the gradients are averaged over ranks, exactly as DDP
    averages ``p.grad``: every rank sees the single-process numbers.

    Example config::

        model = dict(type='DualEncoder', ...,
                     grad_probe=dict(params=('visual_proj', 'text_projection'),
                                     pcgrad=False))

    Args:
        params (sequence of str): Parameters (or modules) to probe.
        pcgrad (bool): When the two gradients conflict (cosine < 0) in a
            measured step, add a zero-valued term to the loss whose gradient
            turns the subset's combined gradient w_con g_con + w_cma g_cma into
            the PCGrad one: each gradient minus its projection on the other.
    """

    def __init__(self, params: Sequence[str] = ('visual_proj', 'text_projection'),
                 pcgrad: bool = False):
        if not (isinstance(params, (list, tuple)) and params
                and all(isinstance(n, str) for n in params)):
            raise ValueError('model.grad_probe.params must be a non-empty list of '
                             f'parameter or module names, got {params!r}')
        if not isinstance(pcgrad, bool):
            raise ValueError(f'model.grad_probe.pcgrad must be a bool, got {pcgrad!r}')
        self.params = tuple(params)
        self.pcgrad = pcgrad

    def measure(self, model: nn.Module, loss_con: torch.Tensor,
                loss_cma: torch.Tensor) -> ProbeMeasurement:
        params = [p for _, p in select_params(model, self.params)]
        both = all_reduce_mean(torch.stack([_flat_grad(loss_con, params),
                                            _flat_grad(loss_cma, params)]))
        return ProbeMeasurement(params, both[0], both[1])

    def pcgrad_term(self, measured: ProbeMeasurement, w_con: float, w_cma: float):
        """A zero-valued term whose gradient is the PCGrad correction (0.0 if none)."""
        if not (self.pcgrad and w_cma > 0 and measured.dot < 0):
            return 0.0
        g_con, g_cma, dot = measured.grad_con, measured.grad_cma, measured.dot
        # desired - actual combined gradient on the subset (PCGrad, both ways)
        delta = (-w_con * dot / measured.norm_cma**2 * g_cma
                 - w_cma * dot / measured.norm_con**2 * g_con)
        surrogate, start = 0.0, 0
        for p in measured.params:
            piece = delta[start:start + p.numel()].view_as(p).to(p.dtype)
            surrogate = surrogate + (piece * p).sum()
            start += p.numel()
        return surrogate - surrogate.detach()


def _flat_grad(loss: torch.Tensor, params: List[nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).double()
                      for g, p in zip(grads, params)])
