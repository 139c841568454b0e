import pytest
import torch
from mmengine.dataset import default_collate

from tiny import TINY_PIPELINE, tiny_dataset_cfg
from tpc_cma_mm.evaluation.functional import linear_probe_accuracy
from tpc_cma_mm.evaluation.metrics import AttributeProbeMetric
from tpc_cma_mm.registry import DATASETS, METRICS

COLOURS = ('red', 'green', 'blue')


def _samples(num=120):
    gen = torch.Generator().manual_seed(0)
    samples = []
    for i in range(num):
        colour = i % 3
        embed = torch.randn(6, generator=gen) * 0.1
        embed[colour] += 1.0  # colour is encoded, shape is not
        shape = ('circle', 'ring')[int(torch.randint(2, (1, ), generator=gen))]
        samples.append(dict(img_embeds=embed, img_id=i, attr_colour=COLOURS[colour],
                            attr_shape=shape))
    return samples


def test_probe_metric_matches_the_functional_probe_on_the_id_halves():
    samples = _samples()
    metric = AttributeProbeMetric(attributes=('colour', 'shape'))
    metric.process(None, samples)
    scores = metric.compute_metrics(metric.results)
    even, odd = samples[0::2], samples[1::2]
    for name in ('colour', 'shape'):
        expected = linear_probe_accuracy(
            torch.stack([s['img_embeds'] for s in even]), [s[f'attr_{name}'] for s in even],
            torch.stack([s['img_embeds'] for s in odd]), [s[f'attr_{name}'] for s in odd])
        assert scores[name] == expected
    assert scores['colour'] == 100.0 and scores['shape'] < 75
    assert scores['mean'] == pytest.approx((scores['colour'] + scores['shape']) / 2)


def test_probe_metric_reads_attributes_packed_by_the_pipeline(tiny_model):
    pipeline = [dict(step) for step in TINY_PIPELINE]
    pipeline[-1]['algorithm_keys'] = pipeline[-1]['algorithm_keys'] + [
        'attr_shape', 'attr_colour', 'attr_size', 'attr_position']
    dataset = DATASETS.build(tiny_dataset_cfg('val', 48, pipeline=pipeline))
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    data = tiny_model.data_preprocessor(batch, False)
    metric = METRICS.build(dict(type='AttributeProbeMetric'))
    metric.process(batch, [s.to_dict() for s in tiny_model(**data, mode='predict')])
    keys = metric.evaluate(len(dataset))
    assert set(keys) == {f'probe/{k}' for k in ('shape', 'colour', 'size', 'position', 'mean')}


def test_probe_metric_names_what_is_missing():
    metric = AttributeProbeMetric(attributes=('texture', ))
    with pytest.raises(KeyError, match='attr_<name>'):
        metric.process(None, _samples(2))
    metric = AttributeProbeMetric(attributes=('colour', ))
    metric.process(None, _samples(4)[0::2])
    with pytest.raises(ValueError, match='even and odd ids'):
        metric.compute_metrics(metric.results)
