"""Keep the test set's per-sample outputs for ``tools/test.py --out`` (no pickle)."""
from typing import Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from tpc_cma_mm.registry import METRICS

__all__ = ['DumpEmbeddings']

FIELDS = ('img_embeds', 'text_embeds', 'pred_score', 'img_id', 'gt_label')


@METRICS.register_module()
class DumpEmbeddings(BaseMetric):
    """Collects every sample's embeddings, zero-shot scores, image id and label.

    The plugin's counterpart of mmpretrain's ``DumpResults``: it logs no metric;
    after ``evaluate`` the gathered arrays (split order, sampler padding
    dropped) are in ``arrays`` for ``tools/test.py`` to write as ``.npz``, a
    format that cannot carry code (mmpretrain writes a pickle). A field is kept
    when every sample has it: ``img_embeds`` / ``text_embeds`` ``(N, d)``,
    ``pred_score`` ``(N, C)``, ``img_id`` and ``gt_label`` ``(N,)``.

    Example config::

        test_evaluator = [dict(type='CrossModalRetrieval'), dict(type='DumpEmbeddings')]
    """
    default_prefix = 'dump'

    def __init__(self, collect_device: str = 'cpu', collect_dir=None) -> None:
        super().__init__(collect_device=collect_device, collect_dir=collect_dir)
        self.arrays: Dict[str, np.ndarray] = {}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            row = {}
            for key in FIELDS:
                value = sample.get(key)
                if value is None:
                    continue
                if hasattr(value, 'detach'):
                    value = value.detach().float().cpu().numpy()
                    value = value[0] if key == 'gt_label' else value
                row[key] = np.asarray(value)
            self.results.append(row)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('DumpEmbeddings: the evaluation split is empty.')
        common = set.intersection(*(set(r) for r in results))
        self.arrays = {key: np.stack([r[key] for r in results]) for key in FIELDS
                       if key in common}
        for key in ('img_id', 'gt_label'):
            if key in self.arrays:
                self.arrays[key] = self.arrays[key].astype(np.int64)
        return {}
