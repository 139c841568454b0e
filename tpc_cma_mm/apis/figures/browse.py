"""A sheet of data set items as the model receives them: image, caption, class."""
import textwrap
from typing import Sequence

import numpy as np

from ..outputs import figure_bytes
from .style import paper_style, plt

__all__ = ['item_sheet']


def item_sheet(images: Sequence[np.ndarray], titles: Sequence[str], title: str,
               cols: int = 4) -> bytes:
    """PNG grid of ``(H, W, 3)`` RGB uint8 ``images``, each under its (wrapped) title."""
    rows = max(1, (len(images) + cols - 1) // cols)
    with paper_style():
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.9 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis('off')
        for ax, image, text in zip(axes.flat, images, titles):
            ax.imshow(image, interpolation='nearest')
            ax.set_title(textwrap.fill(textwrap.shorten(text, 120, placeholder=' ...'), 36),
                         fontsize=9, loc='left')
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        return figure_bytes(fig)
