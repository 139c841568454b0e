# Text-only captioning at real scale (docs/spec.md, "Captioning from image embeddings"):
# a 6-layer, 512-wide decoder trained on the frozen ViT-B/16 model's *text* embeddings of
# the Karpathy train captions (566k), then decoding *image* embeddings of Karpathy test
# (5,000 images) scored with pycocoevalcap against all references. Budget: 10,000
# iterations of batch 256, 4.5 epochs of the train captions (not yet timed on a GPU).
#   python tools/eval_caption.py configs/cma_clip_b16.py CHECKPOINT --out DIR \
#       --decoder-config configs/captioning/caption-decoder_w512-l6_1xb256-10k_coco-text-only.py
# tools/eval_caption.py fills in embed_dim, vocab and context_length from the data.
_base_ = ['./caption-decoder_tiny_1xb128-1k_text-only.py']

model = dict(embed_dim=512, width=512, num_layers=6, num_heads=8, prefix_length=10,
             context_length=77)
train_dataloader = dict(batch_size=256)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=500, end=10000, eta_min=1e-5),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
train_cfg = dict(max_iters=10000)
default_hooks = dict(logger=dict(interval=200), checkpoint=dict(interval=10000))
