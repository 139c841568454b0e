"""Cross-modal alignment (CMA) loss: the three parts of the modality gap."""
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from tpc_cma_mm.registry import MODELS
from ..plugin_scope import build_in_plugin_scope
from .distribution_terms import DistributionTerm, check_number

__all__ = ['CMALoss', 'cma_terms']

_LOW_PRECISION = (torch.float16, torch.bfloat16)
_SQRT_FLOOR = 1e-12


def _full_precision(embeds: torch.Tensor) -> torch.Tensor:
    """Half-precision (AMP) embeddings as float32; float32 and float64 as they are."""
    return embeds.float() if embeds.dtype in _LOW_PRECISION else embeds


def cma_terms(img_embeds: torch.Tensor,
              text_embeds: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The CMA terms of docs/spec.md on ``(N, d)`` paired, normalised embeddings.

    ``cent`` = ||mu_x - mu_y||^2, ``dist`` = mean_i ||x~_i - y~_i||^2 and
    ``cov`` = ||S_x - S_y||_F^2 with population covariances (divided by N), so
    that cent + dist equals the mean squared paired distance exactly.

    Half-precision inputs (AMP) are computed in float32; float32 and float64
    inputs keep their precision.
    """
    if img_embeds.shape != text_embeds.shape or img_embeds.dim() != 2:
        raise ValueError('cma_terms needs two (N, d) tensors of one shape, got '
                         f'{tuple(img_embeds.shape)} and {tuple(text_embeds.shape)}')
    img_embeds, text_embeds = _full_precision(img_embeds), _full_precision(text_embeds)
    with torch.autocast(img_embeds.device.type, enabled=False):
        num = img_embeds.shape[0]
        mu_img = img_embeds.mean(0)
        mu_text = text_embeds.mean(0)
        img_centred = img_embeds - mu_img
        text_centred = text_embeds - mu_text
        cov_diff = (img_centred.t() @ img_centred -
                    text_centred.t() @ text_centred) / num
        return dict(
            cent=(mu_img - mu_text).pow(2).sum(),
            dist=(img_centred - text_centred).pow(2).sum(1).mean(),
            cov=cov_diff.pow(2).sum())


@MODELS.register_module()
class CMALoss(nn.Module):
    """Weighted sum of the centroid, paired-residual and covariance terms.

    L_CMA = w_cent * ||mu_x - mu_y||^2 + w_dist * mean_i ||x~_i - y~_i||^2
    + w_cov * ||S_x - S_y||_F^2 on the (global, gathered) batch of
    L2-normalised image embeddings x and text embeddings y (docs/spec.md).
    With ``squared=False`` each term is the distance itself (its square
    root: ||mu_x - mu_y||, the root-mean-square residual, ||S_x - S_y||_F),
    the form in which docs/spec.md defines the gaps. ``extra_terms`` add
    distribution terms (``distribution_terms.py``), each with its own weight.

    Example config::

        model = dict(
            type='DualEncoder', ...,
            cma_loss=dict(type='CMALoss', w_cent=1.0, w_dist=1.0, w_cov=1.0,
                          squared=True,
                          extra_terms=[dict(type='PairCentroidUniformity', weight=0.5)]))

    ``forward`` returns a dict with ``cma`` (the weighted total) and the
    unweighted terms ``cma_cent``, ``cma_dist``, ``cma_cov`` as they enter the
    total (squared or not) for logging (no "loss" in their names, so mmengine
    logs them without summing them, docs/pitfalls.md, "Log keys containing loss").

    Args:
        w_cent (float): Weight of the centroid term.
        w_dist (float): Weight of the paired residual after centring.
        w_cov (float): Weight of the covariance mismatch.
        squared (bool): Squared terms (default) or the distances.
        extra_terms (list[dict], optional): Distribution terms added to the total
            (``DistributionTerm`` configs with their ``weight``), logged as
            ``cma_<name>``.
    """

    def __init__(self, w_cent: float = 1.0, w_dist: float = 1.0,
                 w_cov: float = 1.0, squared: bool = True,
                 extra_terms: Optional[Sequence[dict]] = None):
        super().__init__()
        if not isinstance(squared, bool):
            raise ValueError(f'CMALoss.squared must be a bool, got {squared!r}')
        self.squared = squared
        self.weights = {key[2:]: check_number('CMALoss', key, value,
                                              hint='set it to 0 to switch the term off.')
                        for key, value in dict(w_cent=w_cent, w_dist=w_dist,
                                               w_cov=w_cov).items()}
        self.extra_terms = nn.ModuleList(_build_terms(extra_terms or ()))

    def forward(self, img_embeds: torch.Tensor,
                text_embeds: torch.Tensor) -> Dict[str, torch.Tensor]:
        terms = cma_terms(img_embeds, text_embeds)
        if not self.squared:
            # The floor keeps the gradient finite where a term is exactly 0
            # (sqrt has an infinite slope there); below it the term is flat.
            terms = {k: v.clamp(min=_SQRT_FLOOR).sqrt() for k, v in terms.items()}
        # Every term stays in the graph, also at weight 0 (docs/pitfalls.md, "A loss term skipped").
        total = sum(self.weights[k] * v for k, v in terms.items())
        if len(self.extra_terms):
            # in float32 under AMP, as cma_terms
            img, text = _full_precision(img_embeds), _full_precision(text_embeds)
            with torch.autocast(img.device.type, enabled=False):
                for term in self.extra_terms:
                    terms[term.name] = term(img, text)
                    total = total + term.weight * terms[term.name]
        out = {f'cma_{k}': v for k, v in terms.items()}
        out['cma'] = total
        return out


def _build_terms(configs: Sequence[dict]) -> list:
    """The extra terms, built in this plugin's scope; each a ``DistributionTerm`` whose
    name is its own."""
    if isinstance(configs, dict) or not all(isinstance(c, dict) for c in configs):
        raise ValueError('CMALoss.extra_terms must be a list of term configs such as '
                         f"[dict(type='PairCentroidUniformity', weight=0.5)], got {configs!r}")
    terms = []
    for cfg in configs:
        term = build_in_plugin_scope(cfg)
        if not isinstance(term, DistributionTerm):
            raise ValueError(f'CMALoss.extra_terms: {cfg.get("type")!r} is not a distribution '
                             'term (tpc_cma_mm/models/losses/distribution_terms.py)')
        if term.name in {'cent', 'dist', 'cov'} | {t.name for t in terms}:
            raise ValueError(f'CMALoss.extra_terms: the term {term.name!r} is given twice')
        terms.append(term)
    return terms
