"""Base class for metrics computed on the embeddings of the whole split."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric

from ..functional.finite import require_finite
from ..functional.posthoc import PosthocTransform, build_posthoc

__all__ = ['EmbeddingMetric']


class EmbeddingMetric(BaseMetric):
    """Collects per-sample ``img_embeds``, ``text_embeds``, labels and image ids.

    Subclasses implement ``compute_embedding_metrics(img, text, img_ids,
    labels)``; mmengine gathers ``self.results`` across ranks (in dataset
    order, the sampler's padding dropped) before ``compute_metrics`` runs, so
    every rank's samples are scored together.

    Args:
        posthoc (dict | str, optional): A post-hoc gap fix (``MeanCentering``,
            ``GapShift``; see ``functional/posthoc.py``), fitted on the whole
            split and applied before scoring: "model + post-hoc fix". Unless
            ``prefix`` is given, the keys become ``<fix name>/<default prefix>/...``
            so they do not collide with the plain metric's.
        collect_device, prefix, collect_dir: As in mmengine's ``BaseMetric``.
    """

    def __init__(self, posthoc: Union[None, str, dict, PosthocTransform] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None):
        self.posthoc = build_posthoc(posthoc)
        if prefix is None and self.posthoc is not None:
            prefix = f'{self.posthoc.name}/{self.default_prefix}'
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)

    def _where(self) -> str:
        """The metric and its keys, as errors name them."""
        return f'{type(self).__name__} (keys {self.prefix}/...)'

    @staticmethod
    def _check(sample: dict, owner: str) -> None:
        if 'img_embeds' not in sample or 'text_embeds' not in sample:
            raise KeyError(
                f'{owner} needs img_embeds and text_embeds from the model\'s predict '
                'mode: evaluate a DualEncoder on a split whose pipeline has TokenizeCaption.')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self._check(sample, type(self).__name__)
            label = sample.get('gt_label')
            self.results.append(dict(
                img=sample['img_embeds'].detach().cpu(),
                text=sample['text_embeds'].detach().cpu(),
                img_id=int(sample.get('img_id', len(self.results))),
                label=int(label[0]) if label is not None and len(label) else -1))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError(f'{type(self).__name__}: the evaluation split is empty.')
        img = torch.stack([r['img'] for r in results])
        text = torch.stack([r['text'] for r in results])
        img_ids = torch.tensor([r['img_id'] for r in results])
        labels = torch.tensor([r['label'] for r in results])
        # results are in split order, so a row is the sample's index in the split
        require_finite(f'{self._where()} on the split\'s samples', img=img, text=text)
        if self.posthoc is not None:
            img, text = self.posthoc(img, text)
        return self.compute_embedding_metrics(img, text, img_ids, labels)

    def compute_embedding_metrics(self, img, text, img_ids, labels) -> Dict[str, float]:
        raise NotImplementedError
