"""Change the length of a config's iteration-based schedule."""
from mmengine.config import Config

__all__ = ['rescale_schedule']


def rescale_schedule(cfg: Config, iters: int) -> None:
    """Set ``max_iters`` to ``iters``, scale every scheduler boundary with it
    (each scheduler keeps at least one iteration), and save one checkpoint at the end."""
    if iters < 1:
        raise ValueError(f'a schedule needs at least 1 iteration, got {iters}')
    old = cfg.train_cfg.max_iters
    cfg.train_cfg.max_iters = iters
    for sched in cfg.get('param_scheduler', None) or []:
        begin = round(sched.get('begin', 0) * iters / old)
        sched['begin'] = begin
        if 'end' in sched:
            sched['end'] = max(round(sched['end'] * iters / old), begin + 1)
    cfg.default_hooks.checkpoint.interval = iters
