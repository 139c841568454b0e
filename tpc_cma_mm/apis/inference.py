"""Embed images and texts and classify zero-shot, in a few lines, as mmpretrain's inferencers do::

    from tpc_cma_mm.apis import DualEncoderInferencer
    inferencer = DualEncoderInferencer(
        'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py',
        'work_dirs/tpc/iter_300.pth')
    out = inferencer('cat.jpg', texts=['a photo of a cat'])   # img_embeds, text_embeds: (1, d)
    image_embeds = inferencer.embed_images(['cat.jpg', pil_image, bgr_array])  # (3, d), unit norm
    result = inferencer.zero_shot('cat.jpg', ['cat', 'dog'])    # labels, classes, scores

One convention from file to model, the config's: an image goes through the
config's test pipeline (``test_dataloader.dataset.pipeline``, else the val
one) without its caption transforms, then the model's data preprocessor, as a
test-set image does. A path is read by the pipeline's own loading transform
(mmcv's ``LoadImageFromFile`` when it has none); an array or a PIL image
replaces the loading step, so it is first brought to the order mmcv loads
files in, BGR: arrays are taken as BGR (mmpretrain's inferencers do the same;
pass ``channel_order='rgb'`` for RGB arrays) and PIL images are converted
from RGB explicitly. Resizing, cropping and channel swaps are the
config's (``to_rgb`` of the data preprocessor), never the inferencer's.

mmpretrain's ``FeatureExtractor`` runs a plugin config only with the image part of
its test pipeline (``image_pipeline_cfg``, docs/interop.md); this inferencer takes
the config as it is and embeds texts too.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from torch import nn

from tpc_cma_mm.registry import TRANSFORMS
from .image_pipeline import config_test_pipeline, split_image_pipeline
from .model import init_model

__all__ = ['DualEncoderInferencer']

ImageInput = Union[str, np.ndarray, 'PIL.Image.Image']


class DualEncoderInferencer:
    """Embeddings and zero-shot classification with a ``DualEncoder``.

    Calling it, ``inferencer(images, texts=None)``, returns the model's
    ``mode='tensor'`` keys: ``img_embeds`` and / or ``text_embeds``.

    Args:
        model: a config path, an mmengine ``Config``, or a built ``DualEncoder``
            (its ``cfg``, set by :func:`~tpc_cma_mm.apis.init_model`, gives the pipeline).
        checkpoint: weights to load (config only); None keeps the config's init.
        device: where the model runs.
        batch_size: inputs per forward pass.
        pipeline: transform configs to use instead of the config's test pipeline.
    """

    def __init__(self, model: Union[str, Config, nn.Module],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 batch_size: int = 64, pipeline: Optional[Sequence[dict]] = None):
        if isinstance(model, nn.Module):
            if checkpoint is not None:
                raise ValueError('Give a checkpoint with a config, not with a built model '
                                 '(load it with tpc_cma_mm.apis.load_weights).')
            self.model = model.to(device).eval()
        else:
            self.model = init_model(model, checkpoint, device=device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        cfg = getattr(self.model, 'cfg', None)
        self._pipeline_cfg = list(pipeline) if pipeline is not None else (
            config_test_pipeline(cfg) if cfg is not None else None)
        self._scope = cfg.get('default_scope', 'tpc_cma_mm') if cfg is not None else 'tpc_cma_mm'
        self._loader = self._transforms = None

    def __call__(self, inputs: Union[ImageInput, Sequence[ImageInput], None] = None,
                 texts: Union[str, Sequence[str], None] = None,
                 channel_order: str = 'bgr') -> Dict[str, torch.Tensor]:
        """``img_embeds`` of ``inputs`` and ``text_embeds`` of ``texts`` (unit norm)."""
        if inputs is None and texts is None:
            raise ValueError('Give images (inputs=...) and / or texts=...')
        out = {}
        if inputs is not None:
            out['img_embeds'] = self.embed_images(inputs, channel_order)
        if texts is not None:
            out['text_embeds'] = self.embed_texts(texts)
        return out

    # ---------------------------------------------------------------- inputs
    def _build_pipeline(self) -> None:
        """The loading transform (for paths) and the image transforms after it."""
        if self._pipeline_cfg is None:
            raise ValueError('A model given without a config has no test pipeline: pass pipeline='
                             "[...] (e.g. the config's test_dataloader.dataset.pipeline).")
        # Captions are not images' business: the text side is embed_texts.
        loader, image_transforms = split_image_pipeline(self._pipeline_cfg, self._scope)
        with DefaultScope.overwrite_default_scope(self._scope):
            self._loader = TRANSFORMS.build(loader) if loader else LoadImageFromFile()
        self._transforms = Compose([TRANSFORMS.build(t) for t in image_transforms])

    def _prepare(self, image: ImageInput, channel_order: str) -> dict:
        from PIL import Image
        if isinstance(image, str):
            results = self._loader(dict(img_path=image))
            if results is None:  # a skipping loader refused the file
                raise FileNotFoundError(f'Cannot load image {image!r}.')
        else:
            if isinstance(image, Image.Image):
                array = np.asarray(image.convert('RGB'))[..., ::-1]
            elif isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3:
                array = image if channel_order == 'bgr' else image[..., ::-1]
            else:
                raise TypeError('Images are file paths, (H, W, 3) arrays (BGR as mmcv loads '
                                "files, or channel_order='rgb') or PIL images; got "
                                f'{type(image).__name__} {getattr(image, "shape", "")}.')
            array = np.ascontiguousarray(array)
            results = dict(img=array, img_shape=array.shape[:2], ori_shape=array.shape[:2])
        packed = self._transforms(results)
        if packed is None or 'inputs' not in packed:
            raise ValueError('The test pipeline must end with PackInputs (it gave no "inputs").')
        return packed

    def _batches(self, items: Sequence):
        for start in range(0, len(items), self.batch_size):
            yield items[start:start + self.batch_size]

    # --------------------------------------------------------------- outputs
    @torch.no_grad()
    def embed_images(self, images: Union[ImageInput, Sequence[ImageInput]],
                     channel_order: str = 'bgr') -> torch.Tensor:
        """(N, d) unit-norm image embeddings of one image or a list of them.

        ``channel_order`` ('bgr' or 'rgb') applies to arrays only.
        """
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
        if isinstance(images, (str, np.ndarray)) or not isinstance(images, Sequence):
            images = [images]
        if not images:
            raise ValueError('embed_images got no images.')
        if self._transforms is None:
            self._build_pipeline()
        out = []
        for batch in self._batches(list(images)):
            data = pseudo_collate([self._prepare(image, channel_order) for image in batch])
            shapes = {tuple(x.shape) for x in data['inputs']}
            if len(shapes) > 1:
                raise ValueError(f'The test pipeline gave images of several sizes {sorted(shapes)}:'
                                 ' give images of one size or add a Resize / CenterCrop to it.')
            data = self.model.data_preprocessor(data, False)
            out.append(self.model(data['inputs'], mode='tensor')['img_embeds'])
        return torch.cat(out).cpu()

    @torch.no_grad()
    def embed_texts(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        """(N, d) unit-norm text embeddings (the model's tokenizer and context length)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise TypeError('embed_texts takes a string or a non-empty list of strings.')
        out = []
        for batch in self._batches(texts):
            tokens = self.model.tokenizer(batch).to(self.device)
            out.append(self.model(text_tokens=tokens, mode='tensor')['text_embeds'])
        return torch.cat(out).cpu()

    @torch.no_grad()
    def class_embeddings(self, classnames: Sequence[str],
                         templates: Sequence[str] = ('a photo of a {}.', )) -> torch.Tensor:
        """(C, d): the model's own zero-shot prototypes for ``classnames``
        (``DualEncoder.class_prototypes``); the model's own zero-shot setting
        is restored afterwards."""
        saved = self.model.zero_shot
        try:
            self.model.set_zero_shot(classnames, templates)
            return self.model.class_prototypes().cpu()
        finally:
            self.model.zero_shot = saved
            self.model.invalidate_prototypes()

    def zero_shot(self, images: Union[ImageInput, Sequence[ImageInput]],
                  classnames: Sequence[str],
                  templates: Sequence[str] = ('a photo of a {}.', ),
                  channel_order: str = 'bgr') -> Dict[str, object]:
        """Classify ``images`` into ``classnames``: ``labels`` (N,), the predicted
        ``classes``, ``scores`` (N, C: softmax of the model's scaled cosines)."""
        cosines = (self.embed_images(images, channel_order)
                   @ self.class_embeddings(classnames, templates).t())
        scores = (cosines * self.model.logit_scale_value().detach().cpu()).softmax(-1)
        labels = scores.argmax(-1)
        classes: List[str] = [classnames[i] for i in labels.tolist()]
        return dict(labels=labels, classes=classes, scores=scores)
