"""Bad embeddings and degenerate clustering inputs: refused, naming the rows and the metric.

A NaN row compares false with everything, so before the shared check it counted as a
retrieval hit (Recall@1 rose with the share of NaN rows), failed the gap metric inside
an eigendecomposition, and a one-class split scored 0.0 through the clustering metric
but 1.0 through the function.
"""
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from tpc_cma_mm.evaluation import (AttributeProbeMetric, CrossModalRetrieval,
                                   JointClusteringMetric, ModalityGapMetric)
from tpc_cma_mm.evaluation.functional import (NonFiniteEmbeddingError, gap_metrics,
                                              joint_clustering, retrieval_recall,
                                              zero_shot_accuracy)


def _with_nan_rows(pairs, rows=(3, 17, 40)):
    img, text, labels = (t.clone() for t in pairs)
    img[list(rows), 2] = float('nan')
    return img, text, labels


def _evaluate(metric, img, text, labels, batch=32):
    for start in range(0, len(img), batch):
        metric.process(None, [
            dict(img_embeds=i, text_embeds=t, gt_label=torch.tensor([int(c)]), img_id=start + n,
                 attr_shape=int(c))
            for n, (i, t, c) in enumerate(zip(img[start:start + batch],
                                              text[start:start + batch],
                                              labels[start:start + batch]))])
    return metric.evaluate(len(img))


@pytest.mark.parametrize('score', [
    lambda img, text, labels: retrieval_recall(img, text, torch.arange(len(img))),
    lambda img, text, labels: gap_metrics(img, text),
    lambda img, text, labels: joint_clustering(img, text, labels, seeds=(0, ), n_init=1),
    lambda img, text, labels: zero_shot_accuracy(img, text[:4], labels),
], ids=['retrieval_recall', 'gap_metrics', 'joint_clustering', 'zero_shot_accuracy'])
def test_functions_refuse_nan_rows_naming_count_and_rows(pairs, score):
    img, text, labels = _with_nan_rows(pairs)
    with pytest.raises(NonFiniteEmbeddingError,
                       match=r'3 of 300 img rows hold NaN or Inf \(rows \[3, 17, 40\]\)'):
        score(img, text, labels)


def test_an_inf_text_row_is_refused_too(pairs):
    img, text, labels = pairs
    text = text.clone()
    text[9, 0] = float('inf')
    with pytest.raises(NonFiniteEmbeddingError, match=r'1 of 300 text rows .*\[9\]'):
        retrieval_recall(img, text, torch.arange(len(img)))


WHOLE_SPLIT = r".* 3 of 300 img rows .*\(rows \[3, 17, 40\]\)"


@pytest.mark.parametrize('metric, name', [
    (CrossModalRetrieval(), r'CrossModalRetrieval \(keys retrieval/\.\.\.\)'),
    (CrossModalRetrieval(prefix='coco_test'), r'CrossModalRetrieval \(keys coco_test/\.\.\.\)'),
    # streamed: the first batch (rows 0-31 of the split) is refused
    (ModalityGapMetric(), r"ModalityGapMetric \(keys gap/\.\.\.\) on a batch of the split's "
                          r"samples: 2 of 32 img rows .*\(rows \[3, 17\]\)"),
    (ModalityGapMetric(posthoc='MeanCentering'),
     r'ModalityGapMetric \(keys mean_centering/gap/\.\.\.\)'),
    (JointClusteringMetric(seeds=(0, ), n_init=1), r'JointClusteringMetric \(keys clustering'),
    (AttributeProbeMetric(attributes=('shape', )), r'AttributeProbeMetric \(keys probe'),
], ids=['retrieval', 'retrieval-prefix', 'gap-streaming', 'gap-posthoc', 'clustering', 'probe'])
def test_metrics_name_themselves_and_the_split_rows(pairs, metric, name):
    # rows 3, 17 and 40 of the split: 17 and 40 arrive in later batches of 32
    img, text, labels = _with_nan_rows(pairs)
    if 'on a batch' not in name:
        name += WHOLE_SPLIT
    with pytest.raises(NonFiniteEmbeddingError, match=name):
        _evaluate(metric, img, text, labels)


def test_nan_rows_no_longer_count_as_retrieval_hits(pairs):
    """The reported symptom: the NaN rows' queries were all "found" at rank 1."""
    img, text, _ = pairs
    clean = retrieval_recall(img, text, torch.arange(len(img)))['i2t_R@1']
    img = img.clone()
    img[::10] = float('nan')  # 10 % of the rows
    # what the old scoring gave: NaN similarities never rank ahead, so each NaN query hit
    sim = img.double() @ text.double().t()
    ahead = (sim >= sim.diagonal()[:, None]).sum(1) - 1
    assert 100.0 * float((ahead < 1).double().mean()) > clean + 5
    with pytest.raises(NonFiniteEmbeddingError, match='30 of 300 img rows'):
        retrieval_recall(img, text, torch.arange(len(img)))


def test_one_class_is_refused_the_same_way_by_function_and_metric(pairs):
    img, text, _ = pairs
    labels = torch.full((len(img), ), 2)
    # the two values the function (k = 1) and the metric (k = 8 classes) gave before
    assert adjusted_rand_score([2, 2, 2, 2], [0, 0, 0, 0]) == 1.0
    assert adjusted_rand_score([2, 2, 2, 2], [0, 1, 0, 1]) == 0.0
    message = r'every labelled sample has class 2; .* at least two classes'
    with pytest.raises(ValueError, match=message):
        joint_clustering(img, text, labels)
    with pytest.raises(ValueError, match=message):
        joint_clustering(img, text, labels, num_clusters=8)
    metric = JointClusteringMetric(seeds=(0, ), n_init=1)
    metric.dataset_meta = dict(classes=tuple('abcdefgh'))
    with pytest.raises(ValueError, match=message):
        _evaluate(metric, img, text, labels)


def test_one_cluster_is_refused(pairs):
    img, text, labels = pairs
    with pytest.raises(ValueError, match=r'num_clusters=1 puts every embedding in one cluster'):
        joint_clustering(img, text, labels, num_clusters=1)
