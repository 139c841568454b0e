# open_clip ViT-B-16 (not '-quickgelu') in mmpretrain's CLIP layout: as
# clip_vit-base-p16.py but with nn.GELU in both towers. Convert its weights with
# tools/convert_clip_weights.py SRC DST --format open_clip.
# open_clip 'ViT-B-16-quickgelu' models and OpenAI's weights: use clip_vit-base-p16.py.
_base_ = ['./clip_vit-base-p16.py']
model = dict(
    vision_backbone=dict(layer_cfgs=dict(act_cfg=dict(type='GELU'))),
    text_backbone=dict(act='gelu'),
)
