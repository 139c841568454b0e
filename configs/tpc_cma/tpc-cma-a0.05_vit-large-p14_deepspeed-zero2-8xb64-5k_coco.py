# TPC-CMA fine-tuning of CLIP ViT-L/14 on COCO captions with DeepSpeed ZeRO stage 2
# (optimizer state and gradients sharded, parameters replicated), bf16, 8 GPUs x 64.
#   pip install -e '.[deepspeed]'   (deepspeed 0.15.4; 0.19.8 fails with mmengine 0.10.7)
#   bash tools/dist_train.sh configs/tpc_cma/tpc-cma-a0.05_vit-large-p14_deepspeed-zero2-8xb64-5k_coco.py 8
# ZeRO-3 (parameters sharded too): --cfg-options strategy.zero_optimization.stage=3,
# with the gradient-probe caveat of docs/scaling.md.
_base_ = [
    '../_base_/models/clip_vit-large-p14.py',
    '../_base_/datasets/coco_karpathy.py',
    '../_base_/schedules/coco_finetune_5k.py',
    '../_base_/default_runtime.py',
]
runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    inputs_to_half=['inputs'],  # images to bf16; text_tokens stay integer ids
    zero_optimization=dict(
        stage=2,
        allgather_partitions=True,
        reduce_scatter=True,
        allgather_bucket_size=5e8,
        reduce_bucket_size=5e8,
        overlap_comm=True,
        contiguous_gradients=True),
    gradient_clipping=1.0,  # DeepSpeed clips by the global norm itself
    train_micro_batch_size_per_gpu=64)

# Convex here: the gradient-share combination of the other TPC-CMA configs measures
# gradient norms on the probe parameters with torch.autograd.grad, not tested on
# sharded parameters (docs/method.md, "Decisions by experiment").
model = dict(cma_loss=dict(type='CMALoss'), combine='convex',
             tower_cfg=dict(grad_checkpointing=True))
custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.05, probe_interval=10)]
optim_wrapper = dict(type='DeepSpeedOptimWrapper', clip_grad=None)
train_dataloader = dict(batch_size=64)
env_cfg = dict(dist_cfg=dict(backend='nccl'))
load_from = 'checkpoints/clip_vit-l14_openai.pth'
# Validation on COCO Karpathy val only (the B/16 configs add zero-shot sets with
# MultiValLoop, whose zero-shot prototypes would need the sharded text tower gathered).
val_cfg = dict(type='ValLoop')
# The schedule's lr is meant for 8 x 64 (tools/train.py --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=512)
