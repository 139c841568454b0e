# Generated captioned shapes (tpc_cma_mm.datasets.ShapeCaptions); nothing to download.
# Another data seed: --cfg-options train_dataloader.dataset.seed=1 (and val/test alike).
pipeline = [
    dict(type='TokenizeCaption', context_length=32),
    dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id']),
]
zero_shot = dict(
    classnames=['circle', 'square', 'triangle', 'diamond', 'cross', 'star',
                'hexagon', 'ring'],
    templates=['a photo of a {}', 'a picture of a {}', 'an image of a {}'])

train_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ShapeCaptions', split='train', num_samples=10000, seed=0,
                 pipeline=pipeline))
val_dataloader = dict(
    batch_size=500,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ShapeCaptions', split='val', num_samples=1000, seed=0,
                 pipeline=pipeline))
test_dataloader = dict(
    batch_size=500,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ShapeCaptions', split='test', num_samples=1000, seed=0,
                 pipeline=pipeline))
val_evaluator = [
    dict(type='CrossModalRetrieval', topk=(1, 5, 10)),
    # ties count against the image (docs/evaluation.md, "Zero-shot")
    dict(type='ZeroShotAccuracy', topk=(1, 5), prefix='zero_shot'),
    dict(type='ModalityGapMetric'),
    dict(type='JointClusteringMetric', seeds=(0, 1, 2), n_init=10),
]
test_evaluator = val_evaluator
