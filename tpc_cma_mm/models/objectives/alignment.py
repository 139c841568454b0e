"""The alignment objective: the losses, their combination, the probe, the cap, the gap estimate."""
import math
from numbers import Real
from typing import Dict, Optional

import torch
from torch import nn

from tpc_cma_mm.registry import MODELS
from ..plugin_scope import build_in_plugin_scope
from .combination import alpha_cap, check_combine, constant_alpha_cap, loss_weights
from .gap_estimate import batch_gap_squares
from .grad_probe import GradProbe, select_params

__all__ = ['AlignmentObjective']


@MODELS.register_module()
class AlignmentObjective(nn.Module):
    """Everything the model knows about alignment, on the gathered global batch.

    ``DualEncoder`` builds one from its own config keys (``contrastive_loss``,
    ``cma_loss``, ``alpha``, ``combine``, ``grad_probe``) and hands it the
    gathered embeddings; the towers stay in the model. It holds no parameter
    or buffer, so the model's state-dict keys are those of the layout before it
    existed and old checkpoints load unchanged.

    Example config (the keys as a ``DualEncoder`` passes them on)::

        model = dict(type='DualEncoder', ...,
                     contrastive_loss=dict(type='ContrastiveLoss'),
                     cma_loss=dict(type='CMALoss'), alpha=0.0, combine='grad_share',
                     grad_probe=dict(params=('visual_proj', 'text_projection')))
        # built inside the model as
        # AlignmentObjective(contrastive_loss=..., cma_loss=..., alpha=...,
        #                    combine=..., grad_probe=...)

    The curriculum's interface (``TPCCurriculumHook``, which imports nothing
    of the model's packages) is :meth:`set_schedule` (alpha and whether to
    probe), :meth:`alpha_cap` (the gradient-aware cap of this combination),
    :meth:`constant_alpha_cap` (the cap where it ignores the gradients),
    :attr:`probes_every_step`, and the step's outputs: ``probe_grad_*`` in
    probed steps, ``contrastive_raw``, ``contrastive_chance`` (ln of the
    global batch: InfoNCE at chance) and the unbiased squared gap estimates of
    the batch ``gap_sq_centroid``, ``gap_sq_distribution``, ``gap_sq_raw``
    (``gap_estimate.py``) in every step with a CMA loss.

    Args:
        contrastive_loss (dict): The InfoNCE loss.
        cma_loss (dict, optional): The alignment loss; ``None``: InfoNCE alone.
        alpha (float): The CMA weight until a curriculum sets it.
        combine (str): ``'convex'``, ``'additive'`` or ``'grad_share'``
            (``combination.py``).
        grad_probe (dict, optional): ``params`` and ``pcgrad`` of the
            :class:`GradProbe`.
    """

    def __init__(self, contrastive_loss: dict = dict(type='ContrastiveLoss'),
                 cma_loss: Optional[dict] = None, alpha: float = 0.0,
                 combine: str = 'convex', grad_probe: Optional[dict] = None):
        super().__init__()
        self.contrastive_loss = build_in_plugin_scope(contrastive_loss)
        self.cma_loss = build_in_plugin_scope(cma_loss) if cma_loss else None
        self.combine = check_combine(combine)
        self.grad_probe = GradProbe(**(grad_probe or {}))
        self.alpha, self.probe_this_step = 0.0, False
        self.set_schedule(alpha=alpha)

    @property
    def probes_every_step(self) -> bool:
        """``'grad_share'`` needs the gradient norms to weight every step."""
        return self.combine == 'grad_share'

    def set_schedule(self, alpha: float, probe: bool = False) -> None:
        """The CMA weight and whether the next training forwards measure the
        per-loss gradients (reported in the loss dict)."""
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 <= alpha <= 1:
            raise ValueError(f'model.alpha must lie in [0, 1], got {alpha!r}')
        if not isinstance(probe, bool):
            raise ValueError(f'set_schedule(probe=...) must be a bool, got {probe!r}')
        self.alpha, self.probe_this_step = float(alpha), probe

    def alpha_cap(self, grad_con: float, grad_cma: float, gamma: float) -> float:
        """The largest alpha whose weighted CMA gradient stays within gamma
        times the weighted contrastive one, for this combination."""
        return alpha_cap(self.combine, grad_con, grad_cma, gamma)

    def constant_alpha_cap(self, gamma: float) -> Optional[float]:
        """The cap where this combination makes it a constant (``'grad_share'``:
        gamma / (1 + gamma)), ``None`` where it follows the gradients."""
        return constant_alpha_cap(self.combine, gamma)

    def check_probe_params(self, model: nn.Module) -> None:
        """Probe names matching no trainable parameter of ``model`` raise here."""
        if self.cma_loss is not None:
            select_params(model, self.grad_probe.params)

    def forward(self, img_all: torch.Tensor, text_all: torch.Tensor,
                logit_scale: torch.Tensor, model: nn.Module) -> Dict[str, torch.Tensor]:
        """The loss dict of a step on the gathered batch; ``model`` owns the
        probed parameters."""
        if img_all.shape[0] < 2:
            raise ValueError(
                f'The global training batch holds {img_all.shape[0]} pair: InfoNCE on one '
                'pair has zero gradient, so nothing would train. Set '
                'train_dataloader.batch_size so that batch_size x number of GPUs >= 2 '
                '(and drop_last=True in the sampler if the last batch can hold one pair).')
        contrastive = self.contrastive_loss(img_all, text_all, logit_scale)
        # Keys without "loss" are logged, not summed (docs/pitfalls.md, "Log keys containing loss").
        if self.cma_loss is None:
            return dict(loss_contrastive=contrastive)
        cma = self.cma_loss(img_all, text_all)
        cma_raw = cma.pop('cma')
        measured = None
        if torch.is_grad_enabled() and (self.probes_every_step
                                        or self.probe_this_step and self.training):
            measured = self.grad_probe.measure(model, contrastive, cma_raw)
        norms = ((float(measured.norm_con), float(measured.norm_cma)) if measured
                 else (None, None))
        w_con, w_cma = loss_weights(self.combine, self.alpha, *norms)
        out = dict(loss_contrastive=w_con * contrastive,
                   # A weight of 0 keeps the CMA term in the graph
                   # (docs/pitfalls.md, "A loss term skipped").
                   loss_cma=w_cma * cma_raw)
        if measured is not None:
            # Zero-valued; its gradient is the optional PCGrad correction.
            out['loss_cma'] = out['loss_cma'] + self.grad_probe.pcgrad_term(
                measured, w_con, w_cma)
            out.update(measured.log_vars())
        out['contrastive_raw'] = contrastive.detach()
        # InfoNCE of embeddings that no longer tell the pairs apart: the loss's ceiling.
        out['contrastive_chance'] = torch.tensor(math.log(img_all.shape[0]))
        out['alpha'] = torch.tensor(self.alpha)
        out['cma_weight'] = torch.tensor(float(w_cma))
        out.update({k: v.detach() for k, v in cma.items()})
        out.update({f'gap_sq_{k}': torch.tensor(v, dtype=torch.float64)
                    for k, v in batch_gap_squares(img_all, text_all).items()})
        return out
