"""Two real gloo processes give the same metrics as one (mmengine's collect_results path).

The split has an odd size, so mmengine's DefaultSampler pads it: the padded
duplicate must be dropped by the streaming gap metric as by collect_results.
"""
import json

import pytest
import torch
from mmengine.dataset import DefaultSampler

from gloo import run_gloo
from tpc_cma_mm.registry import METRICS

NUM, BATCH = 37, 5
METRIC_CFGS = [
    dict(type='ModalityGapMetric', max_mmd_samples=20, chunk_rows=8),
    dict(type='ModalityGapMetric', posthoc=dict(type='MeanCentering')),
    dict(type='JointClusteringMetric', num_clusters=4, seeds=(0, ), n_init=2),
    dict(type='CrossModalRetrieval'),
]


def _evaluate_all(img, text, labels, rows, collect_dir):
    metrics = [METRICS.build(dict(cfg, collect_dir=collect_dir)) for cfg in METRIC_CFGS]
    for start in range(0, len(rows), BATCH):
        samples = [dict(img_embeds=img[r], text_embeds=text[r],
                        gt_label=torch.tensor([int(labels[r])]), img_id=int(r))
                   for r in rows[start:start + BATCH]]
        for metric in metrics:
            metric.process(None, samples)
    scores = {}
    for metric in metrics:
        scores.update(metric.evaluate(NUM))
    return scores


def _worker(rank, img, text, labels, out_dir):
    sampler = DefaultSampler(list(range(NUM)), shuffle=False)  # pads 37 -> 38
    rows = list(iter(sampler))
    scores = _evaluate_all(img, text, labels, rows, str(out_dir / 'collect'))
    (out_dir / f'rank{rank}.json').write_text(json.dumps(scores))


@pytest.mark.slow  # 2 gloo processes
def test_two_gloo_processes_equal_one(pairs, tmp_path):
    img, text, labels = (t[:NUM] for t in pairs)
    # float64 embeddings: the gap metric then multiplies in float64, so a split
    # over ranks changes nothing but rounding (float32: tests/evaluation/test_gap_metric.py).
    img, text = img.double(), text.double()
    run_gloo(_worker, img, text, labels, tmp_path, world_size=2)
    single = _evaluate_all(img, text, labels, list(range(NUM)), None)
    for rank in (0, 1):  # every rank receives rank 0's result
        distributed = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert distributed.keys() == single.keys()
        for key, value in single.items():
            assert distributed[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
