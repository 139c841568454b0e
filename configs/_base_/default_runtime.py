default_scope = 'tpc_cma_mm'
custom_imports = dict(imports=['tpc_cma_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic saves, old files deleted only after the new one is complete, and
    # loaded state dicts checked against the model (docs/reliability.md).
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=2),
    # Stops at the first NaN / Inf loss; never saves non-finite weights.
    nonfinite_guard=dict(type='NonFiniteGuardHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Zero-shot classes follow the evaluated data set's labels (mismatch refused).
    zero_shot_classes=dict(type='ZeroShotClassesHook'),
    # One training per work dir: a second is refused, naming the first (docs/reliability.md).
    work_dir_lock=dict(type='WorkDirLockHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# TensorBoard too: pip install -e '.[tb]', then python tools/train.py CONFIG --tensorboard
visualizer = dict(type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
log_processor = dict(by_epoch=False, window_size=50)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
