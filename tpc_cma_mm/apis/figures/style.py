"""One look for every figure: a colour-blind-safe palette and print-size fonts."""
import contextlib

import matplotlib

matplotlib.use('Agg')  # headless: figures are written to files only
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ['PALETTE', 'MARKERS', 'paper_style', 'plt']

# Okabe & Ito's palette, distinguishable under the common colour-vision deficiencies.
PALETTE = ('#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442',
           '#000000')
MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*')


@contextlib.contextmanager
def paper_style():
    """rc settings for a figure that stays readable printed at column width."""
    with plt.rc_context({'font.size': 11, 'axes.titlesize': 12, 'axes.labelsize': 11,
                         'legend.fontsize': 9, 'xtick.labelsize': 9, 'ytick.labelsize': 9,
                         'axes.prop_cycle': matplotlib.cycler(color=PALETTE),
                         'axes.grid': True, 'grid.alpha': 0.3}):
        yield
