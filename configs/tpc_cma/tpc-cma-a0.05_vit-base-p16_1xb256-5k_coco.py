# TPC-CMA fine-tuning of OpenAI CLIP ViT-B/16 on COCO captions (Karpathy train),
# alpha_target 0.05: one 80 GB GPU, batch 256, bf16 autocast, 5,000 iterations.
#   python tools/convert_clip_weights.py ViT-B-16.pt checkpoints/clip_vit-b16_openai.pth \
#       --config configs/_base_/models/clip_vit-base-p16.py
#   python tools/train.py configs/tpc_cma/tpc-cma-a0.05_vit-base-p16_1xb256-5k_coco.py
# Overrides: --cfg-options load_from=PATH custom_hooks.0.alpha_target=0.3, and the data
# folders as configs/_base_/datasets/coco_karpathy.py and cifar10_zero-shot.py say.
# Validation: COCO Karpathy val (retrieval and every gap/* key), then CIFAR-10 zero-shot
# (zero_shot_cifar10/top1); docs/real_scale.md prepares the data.
_base_ = [
    '../_base_/models/clip_vit-base-p16.py',
    '../_base_/datasets/coco_karpathy.py',
    '../_base_/datasets/cifar10_zero-shot.py',
    '../_base_/schedules/coco_finetune_5k.py',
    '../_base_/default_runtime.py',
]
model = dict(cma_loss=dict(type='CMALoss', w_cent=1.0, w_dist=1.0, w_cov=1.0),
             combine='grad_share')
# Converted OpenAI weights ({'state_dict': ...}, mmpretrain CLIP layout).
load_from = 'checkpoints/clip_vit-b16_openai.pth'
custom_hooks = [
    dict(type='TPCCurriculumHook', alpha_target=0.05, phases=(0.1, 0.5, 0.4),
         ramp='cosine', gamma=1.0),
]
# bf16 autocast (no loss scaling needed); batch 256 of ViT-B/16 + text tower
# at 224 px takes well under 80 GB in bf16 (activations ~ 30-40 GB).
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16')
default_hooks = dict(
    checkpoint=dict(interval=1000),
    logger=dict(interval=50),
    require_files=dict(type='RequireFilesHook', files=dict(load_from=(
        'OpenAI CLIP ViT-B/16 weights converted with tools/convert_clip_weights.py'))))
val_evaluator = [dict(type='CrossModalRetrieval', topk=(1, 5, 10)),
                 dict(type='ModalityGapMetric')]
test_evaluator = val_evaluator
# tools/reproduce.py --config configs/cma_clip_b16.py --no-pretrain scores, besides the sets
# above, COCO single-label joint clustering (k-means over ~10^4 points, too slow to validate
# during training) and captions with the B/16-scale decoder, retrained per checkpoint
# (tpc_cma_lab/reproduce/benchmarks.py; paths relative to the working directory).
reproduce = dict(
    extra_set_files=['configs/_base_/datasets/coco_single-label.py'],
    decoder_config='configs/captioning/caption-decoder_w512-l6_1xb256-10k_coco-text-only.py')
