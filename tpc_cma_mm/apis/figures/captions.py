"""The captioning sample sheet: held-out images with their reference and generated captions."""
import textwrap

from tpc_cma_mm.utils import safe_torch_load
from ..outputs import figure_bytes
from .style import paper_style, plt

__all__ = ['sample_sheet']


def sample_sheet(result: dict, to_rgb: bool = False) -> bytes:
    """PNG grid of the cached test images with the reference and both generated captions."""
    test = safe_torch_load(result['cache_file'])['test']
    by_id = {c['img_id']: c for c in result['captions']['image']}
    text_by_id = {c['img_id']: c['pred'] for c in result['captions']['text']}
    cols = 4
    rows = max(1, (len(test['images']) + cols - 1) // cols)
    with paper_style():
        fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 4.8 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis('off')
        for ax, img, img_id in zip(axes.flat, test['images'], test['img_ids']):
            img = img.permute(1, 2, 0).numpy()
            ax.imshow(img[..., ::-1] if to_rgb else img)
            cap = by_id[int(img_id)]
            lines = [f'reference: {cap["refs"][0]}', f'from image: {cap["pred"]}',
                     f'from text: {text_by_id[int(img_id)]}']
            # Cut and wrapped, so that a long (untrained) caption stays in its column.
            ax.set_title('\n'.join(textwrap.fill(textwrap.shorten(line, 90, placeholder=' ...'),
                                                  45) for line in lines), fontsize=9, loc='left')
        fig.suptitle('Captions from image embeddings (decoder trained on text embeddings only)')
        fig.tight_layout(h_pad=2.0, rect=(0, 0, 1, 0.97))
        return figure_bytes(fig)
