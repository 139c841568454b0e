# CIFAR-10 test set (10,000 images), zero-shot with OpenAI's 18 CIFAR prompts, validated
# after the main val set by MultiValLoop (metrics zero_shot_cifar10/top1, /top5,
# /mean_per_class_recall).
# Extract cifar-10-python.tar.gz into data/cifar10 (docs/real_scale.md); nothing is
# downloaded at run time. Another folder:
#   --cfg-options val_cfg.extra_sets.cifar10.dataloader.dataset.data_root=DIR
val_cfg = dict(type='MultiValLoop', extra_sets=dict(cifar10=dict(
    dataloader=dict(
        batch_size=256,
        num_workers=8,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='SafeCIFAR10', data_root='data/cifar10', split='test',
                     pipeline=[dict(type='ResizeEdge', scale=224, edge='short',
                                    interpolation='bicubic'),
                               dict(type='CenterCrop', crop_size=224),
                               dict(type='PackInputs')])),
    evaluator=dict(type='ZeroShotAccuracy', topk=(1, 5), prefix='zero_shot_cifar10'),
    zero_shot=dict(benchmark='cifar10'))))
