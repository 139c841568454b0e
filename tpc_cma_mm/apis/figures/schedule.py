"""The learning rate and the curriculum's alpha over a run (``apis.schedule_curves``)."""
from typing import Dict, List, Optional

from ..outputs import figure_bytes
from .style import PALETTE, paper_style, plt

__all__ = ['schedule_figure']


def schedule_figure(curves: Dict[str, List[float]], title: Optional[str] = None) -> bytes:
    """lr per iteration, and alpha_sched with the phase boundaries when there is one."""
    with_alpha = 'alpha_sched' in curves
    with paper_style():
        fig, axes = plt.subplots(2 if with_alpha else 1, 1, sharex=True,
                                 figsize=(7, 5.5 if with_alpha else 3))
        axes = list(axes) if with_alpha else [axes]
        axes[0].plot(curves['iters'], curves['lr'], color=PALETTE[0])
        axes[0].set_ylabel('learning rate')
        if with_alpha:
            axes[1].plot(curves['iters'], curves['alpha_sched'], color=PALETTE[3])
            axes[1].set_ylabel('alpha_sched')
            phase = curves['phase']
            for it in range(1, len(phase)):
                if phase[it] != phase[it - 1]:
                    for ax in axes:
                        ax.axvline(it, color='grey', linestyle='--', linewidth=1)
        axes[-1].set_xlabel('iteration')
        fig.suptitle(title or 'schedules')  # alpha = min(alpha_sched, gradient cap)
        fig.tight_layout()
        return figure_bytes(fig)
