# As cma_clip_b16.py with alpha_target 0.5 (the paper's strong-alignment point):
# tpc-cma-a0.5_clip-vit-b16_1x256_coco-karpathy.
_base_ = ['./cma_clip_b16.py']
alpha_target = 0.5
custom_hooks = [
    dict(type='RequireFilesHook', files=dict(load_from={{_base_.clip_weights_hint}})),
    dict(type='TPCCurriculumHook', alpha_target=alpha_target, phases=(0.1, 0.5, 0.4),
         ramp='cosine', probe_interval=10, gamma=1.0),
]
