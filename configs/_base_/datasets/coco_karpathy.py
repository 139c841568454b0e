# COCO captions, Karpathy split. Put the 2014 images under data/coco/{train2014,val2014}
# and Karpathy's dataset_coco.json under data/coco/annotations (README, "Real-scale runs").
# A corrupt image stops the run naming the file; on_error='skip' counts and skips instead.
# Another data folder: --cfg-options train_dataloader.dataset.data_root=DIR
#     val_dataloader.dataset.data_root=DIR test_dataloader.dataset.data_root=DIR
# (values are written into each dict: a top-level data_root would change nothing,
# docs/pitfalls.md, "Config variables are substituted").
train_pipeline = [
    dict(type='SafeLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.9, 1.0),
         interpolation='bicubic'),
    dict(type='TokenizeCaption', context_length=77),
    dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id']),
]
test_pipeline = [
    dict(type='SafeLoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='TokenizeCaption', context_length=77),
    dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id']),
]
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CocoKarpathyCaptions', data_root='data/coco',
                 ann_file='annotations/dataset_coco.json', split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoKarpathyCaptions', data_root='data/coco',
                 ann_file='annotations/dataset_coco.json', split='val',
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=256,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoKarpathyCaptions', data_root='data/coco',
                 ann_file='annotations/dataset_coco.json', split='test',
                 pipeline=test_pipeline))
val_evaluator = [dict(type='CrossModalRetrieval', topk=(1, 5, 10))]
test_evaluator = val_evaluator
