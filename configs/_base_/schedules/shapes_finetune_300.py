# 300 iterations of AdamW fine-tuning for the tiny CLIP (CPU, minutes): short
# warm-up, cosine decay. Every tiny fine-tune variant uses this one budget.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.05, betas=(0.9, 0.98)),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=300,
         eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# tools/train.py --auto-scale-lr scales lr by (GPUs x batch) / 256.
auto_scale_lr = dict(base_batch_size=256)
