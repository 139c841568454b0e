# The gap target on another tower: TPC-CMA fine-tuning of the tiny ConvNeXt-tower CLIP
# (configs/_base_/models/clip_convnext-tiny.py) asked to close 50 % of its centroid gap, with the
# ViT's fine-tuning budget (CPU, minutes). Pretrain it first:
#   python tools/train.py configs/clip/clip_convnext-tiny_1xb256-1k_shapes-pretrain.py --work-dir work_dirs/convnext_pretrain
#   python tools/train.py configs/tpc_cma/tpc-cma-target-c0.5_convnext-tiny_1xb256-300i_shapes.py
_base_ = ['./tpc-cma-target-c0.5_vit-tiny-p8_1xb256-300i_shapes.py']
# The image tower of clip_convnext-tiny.py in place of the ViT (a config has one model dict).
model = dict(
    vision_backbone=dict(_delete_=True, type='ConvNeXt',
                         arch=dict(depths=[2, 2, 2, 2], channels=[16, 32, 64, 128]),
                         gap_before_final_norm=False, out_indices=(3, )),
    vision_neck=dict(type='GlobalAveragePooling'),
    projection=dict(in_channels=128))
load_from = 'work_dirs/convnext_pretrain/iter_1000.pth'
default_hooks = dict(require_files=dict(files=dict(load_from=(
    'the tiny ConvNeXt-tower pretrained model; make it with python tools/train.py '
    'configs/clip/clip_convnext-tiny_1xb256-1k_shapes-pretrain.py --work-dir work_dirs/convnext_pretrain'))))
