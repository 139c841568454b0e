# 5,000 iterations of AdamW fine-tuning (CLIP-style betas and eps), warm-up + cosine.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1, betas=(0.9, 0.98), eps=1e-6),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'logit_scale': dict(decay_mult=0.0),
                                    'positional_embedding': dict(decay_mult=0.0),
                                    'pos_embed': dict(decay_mult=0.0),
                                    'cls_token': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=250),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=250, end=5000, eta_min=0.0),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=5000, val_interval=1000)
test_cfg = dict(type='TestLoop')
# tools/train.py --auto-scale-lr scales lr by (GPUs x batch) / 256.
auto_scale_lr = dict(base_batch_size=256)
