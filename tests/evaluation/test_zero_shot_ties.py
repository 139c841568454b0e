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


def _scored(metric, samples, labels):
    for sample, label in zip(samples, labels):
        sample.set_gt_label(int(label))
    metric.process(None, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_predict_path_and_functional_share_one_tie_rule(tiny_model):
    """Duplicate prototypes ('cat' twice): the registered metric on predict scores gives
    the functional's numbers; mmpretrain's Accuracy (the old predict-path scorer) lets
    the lower index win the tie instead."""
    from mmpretrain.evaluation import Accuracy

    from tpc_cma_mm.evaluation import ZeroShotAccuracy
    model = tiny_model.eval()
    model.set_zero_shot(['cat', 'dog', 'cat', 'bird'], ['a {}.'])
    torch.manual_seed(0)
    images = torch.randn(24, 3, 16, 16)
    labels = torch.arange(24) % 4
    with torch.no_grad():
        img = model(images, mode='tensor')['img_embeds']
        prototypes = model.class_prototypes()
        ours = _scored(ZeroShotAccuracy(topk=(1, 2)), model(images, mode='predict'), labels)
        theirs = _scored(Accuracy(topk=(1, 2), thrs=None), model(images, mode='predict'),
                         labels)
    expected = zero_shot_accuracy(img, prototypes, labels, topk=(1, 2))
    assert ours == {f'zero_shot/{k}': v for k, v in expected.items()}
    scores = (img.double() @ prototypes.double().t()).numpy()
    assert ours['zero_shot/top1'] == pytest.approx(brute_force_topk(scores, labels.numpy(), 1))
    # classes 0 and 2 tie on every image: neither is ever top-1 here ...
    best = scores.argmax(1)
    lost = np.isin(labels.numpy(), (0, 2)) & np.isin(best, (0, 2))
    assert lost.any()
    # ... whereas index order credits class 0's images whenever the tie is on top.
    assert theirs['accuracy/top1'] > ours['zero_shot/top1']


def test_mean_per_class_recall_is_balanced_accuracy():
    from sklearn.metrics import balanced_accuracy_score

    from tpc_cma_mm.evaluation.functional import zero_shot_scores
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((50, 6))  # no ties
    labels = rng.choice([0, 1, 2, 4], size=50, p=[0.55, 0.25, 0.15, 0.05])  # unbalanced
    got = zero_shot_scores(torch.from_numpy(scores), torch.from_numpy(labels), (1, ))
    assert got['mean_per_class_recall'] == pytest.approx(
        100 * balanced_accuracy_score(labels, scores.argmax(1)))
    assert got['top1'] == pytest.approx(100 * np.mean(scores.argmax(1) == labels))
    with pytest.raises(ValueError, match='Labels must lie in'):
        zero_shot_scores(torch.from_numpy(scores), torch.tensor([7] * 50))
