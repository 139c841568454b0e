# Plain contrastive fine-tuning of the tiny pretrained CLIP for 300 iterations: the
# baseline every TPC-CMA variant in configs/tpc_cma/ inherits and adds a loss to.
#   python tools/train.py configs/clip/clip_vit-tiny-p8_1xb256-300i_shapes-ft.py
_base_ = [
    '../_base_/models/clip_vit-tiny-p8.py',
    '../_base_/datasets/shape_captions.py',
    '../_base_/schedules/shapes_finetune_300.py',
    '../_base_/default_runtime.py',
]
model = dict(zero_shot={{_base_.zero_shot}})
load_from = 'work_dirs/tiny_pretrain/iter_1000.pth'
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=100, max_keep_ckpts=1),
    # In default_hooks (a dict, merged key by key) so every child keeps it.
    require_files=dict(type='RequireFilesHook', files=dict(load_from=(
        'the tiny pretrained model; make it with python tools/train.py '
        'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py '
        '--work-dir work_dirs/tiny_pretrain'))))
log_processor = dict(window_size=25)
