"""FLOPs and parameters of a ``DualEncoder``, each tower on its own input.

mmpretrain's ``get_flops.py`` counts ``model.extract_feat`` on an image, which
for a ``DualEncoder`` is the image tower alone; this counts the text tower too,
on a full-length caption (no position cut off), with mmengine's counter, which
counts a multiply-add as one FLOP and, as it warns, skips operators it has no
rule for (``scaled_dot_product_attention``: the attention products)::

    from tpc_cma_mm.apis import init_model, model_complexity
    info = model_complexity(init_model(config))    # image / text / total flops, params
"""
from typing import Optional, Sequence

import torch
from mmengine.analysis import get_model_complexity_info
from torch import nn

__all__ = ['model_complexity']


class _Tower(nn.Module):
    """One encoder of the model as a module whose forward mmengine can trace."""

    def __init__(self, model: nn.Module, encode: str):
        super().__init__()
        self.model, self.encode = model, encode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.encode)(x)


def model_complexity(model: nn.Module, image_shape: Optional[Sequence[int]] = None) -> dict:
    """``image`` and ``text`` (mmengine's ``flops`` and ``activations``, and their
    ``*_str``), ``total_flops`` and ``params`` of one image and one caption.

    ``image_shape`` is ``(C, H, W)``; by default that of a ViT tower's ``img_size``
    (other towers take any size, so it must be given).
    """
    if image_shape is None:
        size = getattr(model.visual, 'img_size', None)
        if size is None:
            raise ValueError(f'A {type(model.visual).__name__} image tower takes any input '
                             'size: give image_shape (--shape H W).')
        image_shape = (3, *size)
    if len(image_shape) != 3:
        raise ValueError(f'image_shape must be (C, H, W), got {tuple(image_shape)}')
    tokenizer = model.tokenizer
    # 'a' repeated, the end-of-text id last: every position of the context is encoded.
    tokens = torch.full((1, model.context_length), tokenizer.encode('a')[0], dtype=torch.long)
    tokens[0, 0], tokens[0, -1] = tokenizer.sot_id, tokenizer.eot_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = {}
        for name, encode, inputs in (
                ('image', 'encode_image', torch.zeros(1, *image_shape, device=device)),
                ('text', 'encode_text', tokens.to(device))):
            info = get_model_complexity_info(_Tower(model, encode), inputs=(inputs, ),
                                             show_table=False, show_arch=False)
            out[name] = {k: info[k] for k in ('flops', 'flops_str', 'activations',
                                              'activations_str')}
    finally:
        model.train(was_training)
    out['image_shape'] = tuple(image_shape)
    out['context_length'] = model.context_length
    out['total_flops'] = out['image']['flops'] + out['text']['flops']
    out['params'] = sum(p.numel() for p in model.parameters())
    return out
