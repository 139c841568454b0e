# Train a caption decoder on cached *text* embeddings of the model under test,
# then caption *image* embeddings of held-out images (docs/spec.md, "Captioning from
# image embeddings"). tools/eval_caption.py writes the cache and fills in
# cache_file, vocab, embed_dim and context_length. By hand: tools/train.py this config
# --cfg-options train_dataloader.dataset.cache_file=DIR/embeds.pth
# test_dataloader.dataset.cache_file=DIR/embeds.pth (then tools/test.py alike).
_base_ = ['../_base_/models/caption-decoder_tiny.py', '../_base_/default_runtime.py']

model = dict(noise_std=0.0)  # CapDec: e.g. 0.126 (variance 0.016)

train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='EmbeddingCaptions', cache_file=None, split='train',
                 modality='text', center=False))
test_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='EmbeddingCaptions', cache_file=None, split='test',
                 modality='image', group_by_image=True, center=False))
test_evaluator = dict(type='CaptionMetric', meteor=True)
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01, betas=(0.9, 0.98)),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=1000,
         eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(interval=1000, max_keep_ckpts=1))
