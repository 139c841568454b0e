"""What the image embeddings still encode: linear probes, one per attribute.

Aligning image embeddings to captions that omit attributes can cost the image
side information; a linear probe on frozen embeddings measures what is left
(docs/method.md, "Experiments").
"""
from typing import Dict, Mapping, Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .finite import require_finite

__all__ = ['linear_probe_accuracy', 'attribute_probes']


def linear_probe_accuracy(train_x: torch.Tensor, train_y: Sequence, test_x: torch.Tensor,
                          test_y: Sequence, C: float = 1.0, max_iter: int = 2000) -> float:
    """Test accuracy (in %) of a logistic-regression probe fitted on ``train_x``.

    Features are standardised on the training rows (the embeddings' spread
    shrinks as the gap closes; the probe should not depend on the scale).
    """
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError(f'linear_probe_accuracy: {len(train_x)} training rows with '
                         f'{len(train_y)} labels, {len(test_x)} test rows with '
                         f'{len(test_y)} labels; each needs one label per row.')
    if len(np.unique(train_y)) < 2:
        raise ValueError('linear_probe_accuracy: the training labels have one class; '
                         'a probe needs at least two.')
    require_finite('linear_probe_accuracy', train=train_x, test=test_x)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    probe.fit(torch.as_tensor(train_x).double().numpy(), train_y)
    predicted = probe.predict(torch.as_tensor(test_x).double().numpy())
    return 100.0 * float((predicted == test_y).mean())


def attribute_probes(train_x: torch.Tensor, train_attrs: Mapping[str, Sequence],
                     test_x: torch.Tensor, test_attrs: Mapping[str, Sequence],
                     C: float = 1.0) -> Dict[str, float]:
    """``{attribute: probe accuracy}`` for every attribute both splits name."""
    missing = set(train_attrs) ^ set(test_attrs)
    if missing:
        raise KeyError(f'attribute_probes: attributes {sorted(missing)} are named in one '
                       'split only; give both splits the same attributes.')
    return {name: linear_probe_accuracy(train_x, train_attrs[name], test_x,
                                        test_attrs[name], C=C)
            for name in train_attrs}
