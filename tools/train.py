"""Train a model from a config: ``python tools/train.py CONFIG [--work-dir DIR]``.

The options are mmpretrain's ``tools/train.py`` options, applied by
``tpc_cma_mm.apis.runner``; ``--tensorboard`` adds mmengine's
TensorBoard backend (``pip install -e '.[tb]'``).
"""
import argparse
import os

from mmengine.config import DictAction  # light; the plugin (torch, mmpretrain) is
# imported once the arguments are parsed, so that --help answers at once


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train with tpc_cma_mm')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the '
        'work dir when no path is given')
    parser.add_argument('--iters', type=int,
                        help='train for this many iterations, the LR schedule scaled with '
                        'them (the curriculum follows max_iters by itself)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (bf16 where supported, else fp16)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the global batch size over the '
                        "config's auto_scale_lr.base_batch_size")
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='pin_memory=False in every dataloader')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='persistent_workers=False in every dataloader (needed with '
                        'num_workers=0)')
    parser.add_argument('--tensorboard', action='store_true',
                        help="also write TensorBoard event files (pip install -e '.[tb]')")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.alpha=0.1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args):
    from tpc_cma_mm.apis.runner import (add_tensorboard, check_schedule_fits,
                                        disable_validation, enable_auto_scale_lr,
                                        load_run_config, resolve_resume,
                                        set_dataloader_options, set_train_amp)
    from tpc_cma_mm.apis.schedule import rescale_schedule
    cfg = load_run_config(args.config, args.work_dir, args.launcher, args.cfg_options)
    if args.iters is not None:
        rescale_schedule(cfg, args.iters)
    check_schedule_fits(cfg)
    if args.amp:
        set_train_amp(cfg)
    if args.no_validate:
        disable_validation(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.tensorboard:
        add_tensorboard(cfg)
    set_dataloader_options(cfg, pin_memory=False if args.no_pin_memory else None,
                           persistent_workers=False if args.no_persistent_workers else None)
    resolve_resume(cfg, args.resume)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    from tpc_cma_mm.apis.runner import build_runner, errors_as_one_line, setup_cpu_distributed
    from tpc_cma_mm.utils import safe_loading
    setup_cpu_distributed(cfg, args.launcher)
    # A full disk or a work dir another training holds: one line, not a traceback;
    # load_from / resume: weights-only (docs/pitfalls.md, "Weights-only torch.load").
    with errors_as_one_line(cfg.work_dir), safe_loading():
        build_runner(cfg).train()


if __name__ == '__main__':
    main()
