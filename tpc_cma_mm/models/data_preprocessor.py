"""Stacks images and caption tokens of a batch."""
from typing import Optional

import torch
from mmengine.model import ImgDataPreprocessor

from tpc_cma_mm.registry import MODELS

__all__ = ['DualEncoderDataPreprocessor']

CLIP_MEAN = (0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255)
CLIP_STD = (0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255)


@MODELS.register_module()
class DualEncoderDataPreprocessor(ImgDataPreprocessor):
    """Normalises images and stacks each sample's ``text_tokens``.

    Example config::

        data_preprocessor = dict(type='DualEncoderDataPreprocessor', to_rgb=True)

    Returns ``dict(inputs=images, data_samples=..., text_tokens=(B, L) long)``;
    ``text_tokens`` is left out when the samples carry none.

    Args:
        mean, std (sequence): Per-channel statistics; CLIP's by default.
        to_rgb (bool): Swap BGR to RGB. Every data set of the plugin yields
            BGR, as ``LoadImageFromFile`` reads files (``ShapeCaptions`` and
            ``SafeCIFAR10/100`` included), and the inferencer reads files
            the same way, so every config keeps the default True;
            False is only for a data set of one's own that yields RGB.
    """

    def __init__(self, mean=CLIP_MEAN, std=CLIP_STD, to_rgb: bool = True,
                 non_blocking: Optional[bool] = False):
        super().__init__(mean=mean, std=std, bgr_to_rgb=to_rgb,
                         non_blocking=non_blocking)

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data.get('inputs')
        if (isinstance(inputs, (list, tuple)) and inputs
                and all(isinstance(x, torch.Tensor) for x in inputs)
                and len({(x.shape, x.dtype) for x in inputs}) == 1):
            # Images of one size (every pipeline that crops): one batch tensor, so the
            # channel swap and normalisation run once on the batch (the same elementwise
            # operations as mmengine's image-by-image loop, so the same values) and the
            # images reach the device in one copy.
            data = dict(data, inputs=torch.stack(inputs))
        out = super().forward(data, training)
        samples = out.get('data_samples')
        if samples and 'text_tokens' in samples[0]:
            out['text_tokens'] = torch.stack(
                [s.text_tokens for s in samples]).to(self.device)
        return out
