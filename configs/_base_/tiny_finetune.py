# Shared part of the tiny fine-tuning configs: the tiny CLIP pretrained by
# configs/tiny/clip_vit-tiny-p8_1x256_shapes-pretrain.py, generated captioned
# shapes, 300 iterations. The variants differ only in the loss and the hooks.
_base_ = [
    './models/clip_tiny_vit_p8.py',
    './datasets/shape_captions.py',
    './schedules/tiny_finetune_300.py',
    './default_runtime.py',
]
model = dict(zero_shot={{_base_.zero_shot}})
load_from = 'work_dirs/tiny_pretrain/iter_1000.pth'
pretrained_hint = ('the tiny pretrained model; make it with python tools/train.py '
                   'configs/tiny/clip_vit-tiny-p8_1x256_shapes-pretrain.py '
                   '--work-dir work_dirs/tiny_pretrain')
custom_hooks = [dict(type='RequireFilesHook', files=dict(load_from=pretrained_hint))]
default_hooks = dict(logger=dict(interval=25),
                     checkpoint=dict(interval=100, max_keep_ckpts=1))
log_processor = dict(window_size=25)
