# ImageNet-1k validation (50,000 images), zero-shot with OpenAI's 80 prompts and class
# names (matched to mmpretrain's ImageNet metainfo), validated by MultiValLoop (metrics
# zero_shot_imagenet/top1, /top5, /mean_per_class_recall).
# Layout: data/imagenet/val/<wnid>/*.JPEG, one folder
# per class (docs/real_scale.md). Another folder:
#   --cfg-options val_cfg.extra_sets.imagenet.dataloader.dataset.data_root=DIR
val_cfg = dict(type='MultiValLoop', extra_sets=dict(imagenet=dict(
    dataloader=dict(
        batch_size=256,
        num_workers=8,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='ImageNet', data_root='data/imagenet', split='val',
                     pipeline=[dict(type='SafeLoadImageFromFile'),
                               dict(type='ResizeEdge', scale=224, edge='short',
                                    interpolation='bicubic'),
                               dict(type='CenterCrop', crop_size=224),
                               dict(type='PackInputs')])),
    evaluator=dict(type='ZeroShotAccuracy', topk=(1, 5), prefix='zero_shot_imagenet'),
    zero_shot=dict(benchmark='imagenet'))))
