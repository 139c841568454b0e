"""Figures of the library's reports, in one colour-blind-safe style; each function returns
PNG bytes. Importing this package loads matplotlib, so ``tpc_cma_mm.apis`` does not: the
reports import it when they draw."""
from .captions import sample_sheet
from .gap import decomposition_figure, pca_2d, projection_figure
from .style import MARKERS, PALETTE, paper_style

__all__ = ['MARKERS', 'PALETTE', 'decomposition_figure', 'paper_style', 'pca_2d',
           'projection_figure', 'sample_sheet']
