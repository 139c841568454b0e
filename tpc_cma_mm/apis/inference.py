"""Embed images and texts and classify zero-shot, in a few lines, as mmpretrain's APIs do::

    from tpc_cma_mm.apis.inference import DualEncoderInferencer
    inferencer = DualEncoderInferencer(
        'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py',
        'work_dirs/tpc/iter_300.pth')
    image_embeds = inferencer.embed_images(['cat.jpg', 'dog.jpg'])   # (2, d), unit norm
    text_embeds = inferencer.embed_texts(['a photo of a cat'])        # (1, d), unit norm
    result = inferencer.zero_shot(['cat.jpg'], ['cat', 'dog'])        # labels, classes, scores

The model comes from :func:`~tpc_cma_mm.apis.init_model` (weights-only,
checked). Images go through the model's own data preprocessor (mean / std,
channel order), exactly as in training and evaluation; files are read with
mmcv (BGR, as mmpretrain's ``LoadImageFromFile``), resized on the shorter side
and centre-cropped to the model's image size (CLIP's test transform).
mmpretrain's own ``get_model`` builds in its scope (docs/pitfalls.md, "mmpretrain's get_model"):
``mmpretrain.get_model(cfg)`` works once ``cfg.model.type`` is
``'tpc_cma_mm.DualEncoder'``.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from .model import init_model

__all__ = ['DualEncoderInferencer']

ImageInput = Union[str, np.ndarray, torch.Tensor]


class DualEncoderInferencer:
    """Embeddings and zero-shot classification with a ``DualEncoder``.

    Args:
        model: a config path, an mmengine ``Config``, or a built ``DualEncoder``.
        checkpoint: weights to load (config only); None keeps the config's init.
        device: where the model runs.
        image_size: side of the square model input; by default the ViT's
            ``img_size`` (required for other image towers).
        batch_size: inputs per forward pass.
    """

    def __init__(self, model: Union[str, Config, nn.Module],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 image_size: Optional[int] = None, batch_size: int = 64):
        if isinstance(model, nn.Module):
            if checkpoint is not None:
                raise ValueError('Give a checkpoint with a config, not with a built model '
                                 '(load it with tpc_cma_mm.apis.load_weights).')
            self.model = model.to(device).eval()
        else:
            self.model = init_model(model, checkpoint, device=device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        size = image_size or getattr(self.model.visual, 'img_size', (None, ))[0]
        if size is None:
            raise ValueError('image_size is needed for an image tower other than a ViT.')
        self.image_size = int(size)

    # ---------------------------------------------------------------- inputs
    def _image_tensor(self, image: ImageInput) -> torch.Tensor:
        """(3, S, S) in the model's input channel order, before normalisation."""
        import mmcv
        if isinstance(image, torch.Tensor):
            if image.shape[-2:] != (self.image_size, self.image_size):
                raise ValueError(f'A tensor image must be (3, {self.image_size}, '
                                 f'{self.image_size}); got {tuple(image.shape)}.')
            return image
        if isinstance(image, str):
            array = mmcv.imread(image)
            if array is None:
                raise FileNotFoundError(f'Cannot read image {image!r}.')
        elif isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3:
            array = image
        else:
            raise TypeError('Images are file paths, (H, W, 3) uint8 arrays (BGR, as '
                            f'mmcv reads them) or (3, S, S) tensors; got {type(image)}.')
        height, width = array.shape[:2]
        scale = self.image_size / min(height, width)
        array = mmcv.imresize(array, (max(self.image_size, round(width * scale)),
                                      max(self.image_size, round(height * scale))),
                              interpolation='bicubic')
        top = (array.shape[0] - self.image_size) // 2
        left = (array.shape[1] - self.image_size) // 2
        array = array[top:top + self.image_size, left:left + self.image_size]
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))

    def _batches(self, items: Sequence):
        for start in range(0, len(items), self.batch_size):
            yield items[start:start + self.batch_size]

    # --------------------------------------------------------------- outputs
    @torch.no_grad()
    def embed_images(self, images: Sequence[ImageInput]) -> torch.Tensor:
        """(N, d) unit-norm image embeddings."""
        out = []
        for batch in self._batches(list(images)):
            data = self.model.data_preprocessor(
                dict(inputs=[self._image_tensor(i) for i in batch]), False)
            out.append(self.model(data['inputs'], mode='tensor')['img_embeds'])
        return torch.cat(out).cpu()

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, d) unit-norm text embeddings (the model's tokenizer and context length)."""
        if isinstance(texts, str):
            raise TypeError('embed_texts takes a list of strings; wrap one text in a list.')
        out = []
        for batch in self._batches(list(texts)):
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

    def zero_shot(self, images: Sequence[ImageInput], classnames: Sequence[str],
                  templates: Sequence[str] = ('a photo of a {}.', )) -> Dict[str, object]:
        """Classify ``images`` into ``classnames``: ``labels`` (N,), the predicted
        ``classes``, ``scores`` (N, C: softmax of the model's scaled cosines)."""
        cosines = self.embed_images(images) @ self.class_embeddings(classnames, templates).t()
        scores = (cosines * self.model.logit_scale_value().detach().cpu()).softmax(-1)
        labels = scores.argmax(-1)
        classes: List[str] = [classnames[i] for i in labels.tolist()]
        return dict(labels=labels, classes=classes, scores=scores)
