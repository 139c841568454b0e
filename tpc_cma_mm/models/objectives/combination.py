"""How alpha mixes the contrastive and the CMA loss, and the largest safe alpha.

Three readings of docs/spec.md's open choice (docs/method.md, "Loss"):

* ``'convex'``: L = (1 - alpha) L_con + alpha L_CMA (the default).
* ``'additive'``: L = L_con + alpha L_CMA.
* ``'grad_share'``: L = (1 - alpha) L_con + alpha (g_con / g_cma) L_CMA with the
  ratio of the gradient norms on the probed parameters taken as a constant
  (no gradient flows through it). On those parameters the CMA part of the
  update then has norm alpha g_con and the contrastive part (1 - alpha) g_con:
  alpha is the share alignment gets of the summed norms, whatever the scale
  of either loss.
"""
from typing import Optional, Tuple

__all__ = ['COMBINE_MODES', 'alpha_cap', 'check_combine', 'constant_alpha_cap', 'loss_weights']

COMBINE_MODES = ('convex', 'additive', 'grad_share')


def check_combine(combine) -> str:
    if combine not in COMBINE_MODES:
        raise ValueError(f'model.combine must be one of {COMBINE_MODES}, got {combine!r}')
    return combine


def loss_weights(combine: str, alpha: float, grad_con: Optional[float] = None,
                 grad_cma: Optional[float] = None) -> Tuple[float, float]:
    """``(w_con, w_cma)``: L = w_con L_con + w_cma L_CMA.

    ``grad_con`` and ``grad_cma`` (the norms of the raw losses' gradients on the
    probed parameters) are needed by ``'grad_share'`` only; where the CMA
    gradient vanishes its weight is 0 (the term stays in the graph).
    """
    if combine == 'convex':
        return 1.0 - alpha, alpha
    if combine == 'additive':
        return 1.0, alpha
    if grad_con is None or grad_cma is None:
        raise ValueError("combine='grad_share' needs the probed gradient norms: "
                         'compute the loss with gradients enabled.')
    return 1.0 - alpha, (alpha * grad_con / grad_cma if grad_cma > 0 else 0.0)


def constant_alpha_cap(combine: str, gamma: float) -> Optional[float]:
    """The cap where it does not depend on the gradients, else ``None``.

    With ``'grad_share'`` the CMA part's norm is alpha g_con by construction, so
    w_cma g_cma <= gamma w_con g_con reads alpha <= gamma / (1 + gamma) whatever
    the norms: a constant limit on alpha, not a gradient-aware one.
    """
    return gamma / (1.0 + gamma) if combine == 'grad_share' else None


def alpha_cap(combine: str, grad_con: float, grad_cma: float, gamma: float) -> float:
    """The largest alpha in [0, 1] with w_cma g_cma <= gamma w_con g_con."""
    constant = constant_alpha_cap(combine, gamma)
    if constant is not None:
        return constant
    if grad_cma <= 0:
        return 1.0
    if combine == 'additive':
        return min(1.0, gamma * grad_con / grad_cma)
    return gamma * grad_con / (grad_cma + gamma * grad_con)
