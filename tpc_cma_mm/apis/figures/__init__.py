"""Figures of the reports, in one colour-blind-safe style; each function returns PNG bytes."""
from .captions import sample_sheet
from .gap import decomposition_figure, pca_2d, projection_figure
from .reproduce import (compromise_figure, curriculum_figure, predictiveness_figure,
                        training_curves)
from .style import PALETTE, paper_style

__all__ = ['PALETTE', 'compromise_figure', 'curriculum_figure', 'decomposition_figure',
           'paper_style', 'pca_2d', 'predictiveness_figure', 'projection_figure',
           'sample_sheet', 'training_curves']
