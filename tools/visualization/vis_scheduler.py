"""Plot a config's learning rate and curriculum alpha over the run, without training.

    python tools/visualization/vis_scheduler.py CONFIG --save-path schedule.png [--cfg-options ...]

The command-line shape of mmpretrain's tools/visualization/vis_scheduler.py;
its plot shows the learning rate, this one also the curriculum's
``alpha_sched`` (``TPCCurriculumHook.schedule``) with the phase boundaries.
An existing, different file is refused unless ``--overwrite``. The logic is
``tpc_cma_mm.apis.schedule_curves``.
"""
import argparse
import sys

from mmengine.config import DictAction

from tpc_cma_mm.apis import load_config, schedule_curves, write_outputs
from tpc_cma_mm.apis.figures.schedule import schedule_figure


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Plot the lr and curriculum schedules')
    parser.add_argument('config')
    parser.add_argument('--save-path', required=True, help='PNG file to write')
    parser.add_argument('--title', help='title of the figure (the config path by default)')
    parser.add_argument('--overwrite', action='store_true', help='replace another file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    curves = schedule_curves(load_config(args.config, args.cfg_options))
    write_outputs({args.save_path: schedule_figure(curves, args.title or args.config)},
                  args.overwrite)
    last = len(curves['iters']) - 1
    for it in sorted({0, last // 4, last // 2, 3 * last // 4, last}):
        alpha = f'  alpha_sched {curves["alpha_sched"][it]:.4g}' if 'alpha_sched' in curves else ''
        print(f'iter {it:6d}  lr {curves["lr"][it]:.4g}{alpha}')
    print(f'Wrote {args.save_path}.')
    return curves


if __name__ == '__main__':
    main(sys.argv[1:])
