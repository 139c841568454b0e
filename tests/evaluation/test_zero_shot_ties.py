"""zero_shot_accuracy counts ties against the image at every rank (brute-force reference)."""
import numpy as np
import pytest
import torch

from tpc_cma_mm.evaluation.functional import zero_shot_accuracy


def brute_force_topk(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """% of images whose true class beats every other class but at most k - 1, ties lost."""
    hits = []
    for row, label in zip(scores, labels):
        rivals = sum(row[c] >= row[label] for c in range(len(row)) if c != label)
        hits.append(rivals < k)
    return 100.0 * float(np.mean(hits))


def test_identical_prototypes_are_never_both_right():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 8))
    # Classes 1 and 3 share a prototype: an image of either ties with the other.
    prototypes = np.stack([base[0], base[1], base[2], base[1], base[3]])
    img = np.repeat(base[[0, 1, 2, 1, 3]], 5, axis=0) + 0.01 * rng.standard_normal((25, 8))
    labels = np.repeat(np.arange(5), 5)
    got = zero_shot_accuracy(torch.from_numpy(img), torch.from_numpy(prototypes),
                             torch.from_numpy(labels), topk=(1, 2, 5))
    scores = img @ prototypes.T
    for k in (1, 2, 5):
        assert got[f'top{k}'] == pytest.approx(brute_force_topk(scores, labels, k))
    assert got['top1'] == pytest.approx(60.0)  # classes 1 and 3 are never top-1
    assert got['top2'] == pytest.approx(100.0)


@pytest.mark.parametrize('seed', range(3))
def test_quantised_scores_match_the_brute_force_reference(seed):
    rng = np.random.default_rng(seed)
    img = np.round(rng.standard_normal((40, 3)))  # coarse values: many exact ties
    prototypes = np.round(rng.standard_normal((6, 3)))
    labels = rng.integers(0, 6, size=40)
    got = zero_shot_accuracy(torch.from_numpy(img), torch.from_numpy(prototypes),
                             torch.from_numpy(labels), topk=(1, 3, 10))
    for k in (1, 3):
        assert got[f'top{k}'] == pytest.approx(brute_force_topk(img @ prototypes.T, labels, k))
    assert got['top10'] == 100.0  # k above the number of classes is clipped
