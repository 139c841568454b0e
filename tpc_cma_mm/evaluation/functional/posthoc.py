"""Post-hoc gap fixes as reusable embedding transforms (the baselines of docs/spec.md).

A transform is *fitted* on paired embeddings (it estimates the modality
means), then maps image-side and text-side embeddings separately, so the
text side can also be applied to zero-shot class prototypes. Evaluators fit
on the evaluation split itself (transductive), which is how these baselines
are usually scored.

Config use (any ``EmbeddingMetric``)::

    dict(type='ModalityGapMetric', posthoc=dict(type='MeanCentering'))
    dict(type='CrossModalRetrieval', posthoc=dict(type='GapShift', lam=0.5))
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F

from tpc_cma_mm.registry import TASK_UTILS

__all__ = ['GapShift', 'MeanCentering', 'PosthocTransform', 'build_posthoc',
           'mean_center', 'shift_along_gap']


class PosthocTransform:
    """Fit on ``(img, text)`` pairs, then transform either modality.

    Args:
        renormalize (bool): Project the shifted embeddings back onto the unit
            sphere (the SPEC baselines do). ``False`` keeps the pure shift,
            whose effect on the gap decomposition is exact (see subclasses).
    """

    name = 'posthoc'

    def __init__(self, renormalize: bool = True):
        self.renormalize = bool(renormalize)
        self.mean_img = self.mean_text = None  # set by fit()

    def fit(self, img: torch.Tensor, text: torch.Tensor) -> 'PosthocTransform':
        self.mean_img = img.double().mean(0)
        self.mean_text = text.double().mean(0)
        return self

    def image(self, img: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def text(self, text: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, img: torch.Tensor, text: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fit on the pairs and return both transformed sets."""
        self.fit(img, text)
        return self.image(img), self.text(text)

    def _means(self) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.mean_img is None:
            raise RuntimeError(f'{type(self).__name__}: call fit(img, text) first.')
        return self.mean_img, self.mean_text

    def _shift(self, embeds: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        # Computed in float64, returned in the input's dtype.
        shifted = embeds.double() + offset.to(embeds.device)
        if self.renormalize:
            shifted = F.normalize(shifted, dim=-1)
        return shifted.to(embeds.dtype)


@TASK_UTILS.register_module()
class MeanCentering(PosthocTransform):
    """Subtract each modality's mean, then renormalise.

    Example config::

        posthoc = dict(type='MeanCentering')

    Without renormalisation both centroids sit at the origin, so gap/centroid
    becomes 0 and the paired residuals (gap/distribution) are untouched: the
    fix removes the centroid part only. Renormalising rescales each residual
    by 1 / ||x - mu||: when a modality sits in a narrow cone (short residuals)
    this inflates gap/distribution a lot, so compare both variants.
    """

    name = 'mean_centering'

    def image(self, img):
        return self._shift(img, -self._means()[0])

    def text(self, text):
        return self._shift(text, -self._means()[1])


@TASK_UTILS.register_module()
class GapShift(PosthocTransform):
    """Shift both modalities toward each other along the gap vector.

    The post-hoc modification of Liang et al. (NeurIPS 2022).

    With ``delta = mean(img) - mean(text)``: ``x' = normalize(x - lam * delta)``,
    ``y' = normalize(y + lam * delta)``. Before renormalisation the centroid
    gap becomes ``(1 - 2 lam) * ||delta||`` (exactly so with
    ``renormalize=False``): ``lam = 0.5`` meets in the middle, ``lam < 0``
    widens the gap. (Liang et al.'s code moves by ``0.5 * step``
    along the *unit* gap direction: ``step = 2 * lam * ||delta||`` here.)
    Only the component along the gap moves, unlike :class:`MeanCentering`.

    Example config::

        posthoc = dict(type='GapShift', lam=0.5)
    """

    def __init__(self, lam: float = 0.5, renormalize: bool = True):
        super().__init__(renormalize)
        self.lam = float(lam)
        self.name = f'gap_shift_{self.lam:g}'

    def _gap(self) -> torch.Tensor:
        mean_img, mean_text = self._means()
        return mean_img - mean_text

    def image(self, img):
        return self._shift(img, -self.lam * self._gap())

    def text(self, text):
        return self._shift(text, self.lam * self._gap())


def build_posthoc(cfg: Union[None, str, dict, PosthocTransform]) -> Optional[PosthocTransform]:
    """A transform from a config dict, a registered class name, or an instance."""
    if cfg is None or isinstance(cfg, PosthocTransform):
        return cfg
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    transform = TASK_UTILS.build(cfg)
    if not isinstance(transform, PosthocTransform):
        raise TypeError(f'posthoc={cfg!r} built a {type(transform).__name__}, '
                        'not a PosthocTransform (MeanCentering, GapShift, ...).')
    return transform


def mean_center(img: torch.Tensor, text: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Both modalities minus their own mean, renormalised."""
    return MeanCentering()(img, text)


def shift_along_gap(img: torch.Tensor, text: torch.Tensor,
                    lam: float = 0.5) -> Tuple[torch.Tensor, torch.Tensor]:
    """Liang et al.'s shift along the gap vector (see :class:`GapShift`)."""
    return GapShift(lam)(img, text)
