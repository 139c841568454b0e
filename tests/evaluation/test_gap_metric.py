"""ModalityGapMetric: streaming equals the function API; keys and prefixes; float32 on 2 ranks."""
import json

import pytest
import torch

from gloo import run_gloo

from tpc_cma_mm.evaluation import CrossModalRetrieval, ModalityGapMetric
from tpc_cma_mm.evaluation.functional import GAP_KEYS, gap_metrics, mean_center
from tpc_cma_mm.registry import METRICS


def _samples(img, text, labels, start=0):
    return [dict(img_embeds=i, text_embeds=t, gt_label=torch.tensor([int(c)]), img_id=start + n)
            for n, (i, t, c) in enumerate(zip(img, text, labels))]


def _evaluate(metric, img, text, labels, batch=32):
    for start in range(0, len(img), batch):
        rows = slice(start, start + batch)
        metric.process(None, _samples(img[rows], text[rows], labels[rows], start))
    return metric.evaluate(len(img))


def test_streaming_metric_equals_gap_metrics(pairs):
    img, text, labels = pairs
    img, text = img.double(), text.double()  # float64 products: chunking changes nothing
    metric = METRICS.build(dict(type='ModalityGapMetric', max_mmd_samples=100, chunk_rows=50))
    scores = _evaluate(metric, img, text, labels)
    expected = gap_metrics(img, text, max_mmd_samples=100)
    assert set(scores) == {f'gap/{k}' for k in GAP_KEYS}
    for key, value in expected.items():
        assert scores[f'gap/{key}'] == pytest.approx(value, rel=1e-10, abs=1e-12), key


def test_metric_resets_between_evaluations(pairs):
    img, text, labels = pairs
    metric = ModalityGapMetric()
    first = _evaluate(metric, img, text, labels)
    second = _evaluate(metric, img[:100], text[:100], labels[:100])
    assert second['gap/centroid'] == pytest.approx(gap_metrics(img[:100], text[:100])['centroid'])
    assert first['gap/centroid'] != second['gap/centroid']


def test_posthoc_option_scores_the_transformed_embeddings_under_its_own_prefix(pairs):
    img, text, labels = pairs
    metric = ModalityGapMetric(posthoc=dict(type='MeanCentering'))
    scores = _evaluate(metric, img, text, labels)
    expected = gap_metrics(*mean_center(img, text))
    assert scores['mean_centering/gap/centroid'] == pytest.approx(expected['centroid'], rel=1e-9)
    retrieval = _evaluate(CrossModalRetrieval(posthoc='GapShift'), img, text, labels)
    assert 'gap_shift_0.5/retrieval/i2t_R1' in retrieval


def test_missing_embeddings_name_the_fix():
    with pytest.raises(KeyError, match='TokenizeCaption'):
        ModalityGapMetric().process(None, [dict(img_embeds=torch.zeros(4))])


def _two_rank_worker(rank, img, text, out_dir):
    from mmengine.dataset import DefaultSampler
    rows = list(iter(DefaultSampler(list(range(len(img))), shuffle=False)))  # pads 37 -> 38
    metric = ModalityGapMetric(max_mmd_samples=20, chunk_rows=8)
    for start in range(0, len(rows), 5):
        batch = rows[start:start + 5]
        metric.process(None, [dict(img_embeds=img[r], text_embeds=text[r]) for r in batch])
    (out_dir / f'rank{rank}.json').write_text(json.dumps(metric.evaluate(len(img))))


@pytest.mark.slow  # 2 gloo processes
def test_two_gloo_ranks_of_float32_embeddings_agree_with_float64_to_1e6(pairs, tmp_path):
    # float32 products: the chunks of two ranks round differently from one
    # process's, by less than the 1e-6 target; every key, the new ones too.
    img, text = pairs[0][:37], pairs[1][:37]
    run_gloo(_two_rank_worker, img, text, tmp_path, world_size=2)
    reference = gap_metrics(img.double(), text.double(), max_mmd_samples=20)
    for rank in (0, 1):
        scores = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert set(scores) == {f'gap/{k}' for k in GAP_KEYS}
        for key, value in reference.items():
            assert abs(scores[f'gap/{key}'] - value) < 1e-6, key
