"""Tokenises captions inside the data pipeline (in the loader workers)."""
from mmcv.transforms import BaseTransform

from tpc_cma_mm.models.tokenizer import CLIPTokenizer
from tpc_cma_mm.registry import TRANSFORMS

__all__ = ['TokenizeCaption']


@TRANSFORMS.register_module()
class TokenizeCaption(BaseTransform):
    """Adds ``text_tokens`` (a ``(context_length,)`` long tensor) from ``text``.

    Tokenising in the pipeline keeps Python BPE out of the training step.

    Example config::

        dict(type='TokenizeCaption', context_length=77)

    Args:
        context_length (int): Must equal the model's ``context_length`` or less.
    """

    def __init__(self, context_length: int = 77):
        self.tokenizer = CLIPTokenizer(context_length=context_length)

    def transform(self, results: dict) -> dict:
        text = results.get('text')
        if not isinstance(text, str) or not text.strip():
            where = results.get('img_path', results.get('sample_idx', '?'))
            raise ValueError(
                f'Empty or missing caption for sample {where}: every item needs '
                'a non-empty "text"; fix or drop that entry in the annotation file.')
        results['text_tokens'] = self.tokenizer(text)[0]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(context_length={self.tokenizer.context_length})'
