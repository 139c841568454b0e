"""Base class for metrics computed on the embeddings of the whole split."""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric

__all__ = ['EmbeddingMetric']


class EmbeddingMetric(BaseMetric):
    """Collects per-sample ``img_embeds``, ``text_embeds`` and labels.

    Subclasses implement ``compute_embedding_metrics(img, text, img_ids,
    labels)``; mmengine gathers ``self.results`` across ranks before
    ``compute_metrics`` runs, so every rank's samples are scored together.
    """

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'img_embeds' not in sample or 'text_embeds' not in sample:
                raise KeyError(
                    f'{type(self).__name__} needs img_embeds and text_embeds from the '
                    "model's predict mode: evaluate a DualEncoder on a split whose "
                    'pipeline has TokenizeCaption.')
            label = sample.get('gt_label')
            self.results.append(dict(
                img=sample['img_embeds'].cpu(), text=sample['text_embeds'].cpu(),
                img_id=int(sample.get('img_id', len(self.results))),
                label=int(label[0]) if label is not None else -1))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError(f'{type(self).__name__}: the evaluation split is empty.')
        img = torch.stack([r['img'] for r in results])
        text = torch.stack([r['text'] for r in results])
        img_ids = torch.tensor([r['img_id'] for r in results])
        labels = torch.tensor([r['label'] for r in results])
        return self.compute_embedding_metrics(img, text, img_ids, labels)

    def compute_embedding_metrics(self, img, text, img_ids, labels) -> Dict[str, float]:
        raise NotImplementedError
