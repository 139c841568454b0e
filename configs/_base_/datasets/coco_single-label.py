# Joint image+text clustering with real labels: COCO 2014 val images whose instances all
# belong to one category, with their captions (CocoSingleLabelCaptions), k = categories
# present, 3 k-means seeds; validated by MultiValLoop (metrics coco_single_label/ari_class,
# /nmi_class, /ari_modality, /nmi_modality). Needs annotations/instances_val2014.json and
# annotations/captions_val2014.json under data/coco (docs/real_scale.md). Another folder:
#   --cfg-options val_cfg.extra_sets.coco_single_label.dataloader.dataset.data_root=DIR
val_cfg = dict(type='MultiValLoop', extra_sets=dict(coco_single_label=dict(
    dataloader=dict(
        batch_size=256,
        num_workers=8,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='CocoSingleLabelCaptions', data_root='data/coco',
                     instances_file='annotations/instances_val2014.json',
                     captions_file='annotations/captions_val2014.json',
                     img_prefix='val2014',
                     pipeline=[dict(type='SafeLoadImageFromFile'),
                               dict(type='ResizeEdge', scale=224, edge='short',
                                    interpolation='bicubic'),
                               dict(type='CenterCrop', crop_size=224),
                               dict(type='TokenizeCaption', context_length=77),
                               dict(type='PackInputs', algorithm_keys=['text', 'text_tokens',
                                                                       'img_id'])])),
    evaluator=dict(type='JointClusteringMetric', seeds=(0, 1, 2), n_init=10,
                   prefix='coco_single_label'))))
