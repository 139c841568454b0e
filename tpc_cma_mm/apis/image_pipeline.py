"""The image part of a config's test pipeline, for inferencers that load images themselves.

A plugin test pipeline loads a file and tokenises its caption; an inferencer
gets an image alone. mmpretrain's ``FeatureExtractor`` builds the whole test
pipeline (less a transform named exactly ``LoadImageFromFile``) with
mmpretrain's registry in whatever scope is current, so on a plugin config it
stops at ``TokenizeCaption`` (not in that registry and, for an image alone,
without a caption; mmpretrain's own retrieval configs stop the same way at
``CleanCaption``). The image part, each transform carrying the config's scope,
works there::

    from mmengine.config import Config
    from mmpretrain.apis import FeatureExtractor
    from tpc_cma_mm.apis import image_pipeline_cfg

    cfg = Config.fromfile(CONFIG)
    cfg.test_dataloader.dataset.pipeline = image_pipeline_cfg(cfg)
    feats = FeatureExtractor(cfg, pretrained=False)('cat.jpg')   # extract_feat of each image
"""
import copy
from typing import List, Optional, Sequence, Tuple

from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tpc_cma_mm.datasets.transforms import TokenizeCaption
from tpc_cma_mm.registry import TRANSFORMS

__all__ = ['config_test_pipeline', 'image_pipeline_cfg', 'split_image_pipeline']


def config_test_pipeline(cfg: Config) -> list:
    """The config's ``test_dataloader.dataset.pipeline``, else its val one."""
    for split in ('test_dataloader', 'val_dataloader'):
        pipeline = cfg.get(split, {}).get('dataset', {}).get('pipeline')
        if pipeline is not None:
            return list(pipeline)
    raise ValueError('The config has no test_dataloader.dataset.pipeline (nor a val one) to '
                     'prepare images with: give the pipeline explicitly.')


def split_image_pipeline(pipeline: Sequence[dict],
                         scope: str = 'tpc_cma_mm') -> Tuple[Optional[dict], List[dict]]:
    """``(loading transform or None, the image transforms)`` of a pipeline.

    Each transform is classified by what it builds to in ``scope`` (so
    subclasses of mmcv's ``LoadImageFromFile`` count as loading); caption
    transforms (``TokenizeCaption``) belong to neither part. The image
    transforms are copies carrying ``_scope_=scope``, so any registry builds
    them in that scope.
    """
    loader, image = None, []
    with DefaultScope.overwrite_default_scope(scope):
        for cfg in pipeline:
            built = TRANSFORMS.build(copy.deepcopy(cfg))
            if isinstance(built, LoadImageFromFile):
                loader = loader or cfg
            elif not isinstance(built, TokenizeCaption):
                image.append(dict(copy.deepcopy(cfg), _scope_=scope))
    return loader, image


def image_pipeline_cfg(cfg: Config) -> List[dict]:
    """The config's test pipeline without its loading and caption transforms."""
    return split_image_pipeline(config_test_pipeline(cfg),
                                cfg.get('default_scope', 'tpc_cma_mm'))[1]
