"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out metrics.json]``.

The options are mmpretrain's ``tools/test.py`` options, applied by
``tpc_cma_mm.apis.runner``. ``--out`` is written atomically; an existing file
with other content is refused unless ``--overwrite``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

from tpc_cma_mm.apis.outputs import OutputExistsError, json_bytes, write_outputs
from tpc_cma_mm.apis.runner import (build_runner, load_run_config, set_dataloader_options,
                                    set_test_amp, setup_cpu_distributed)
from tpc_cma_mm.utils import safe_loading


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate with tpc_cma_mm')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation logs go')
    parser.add_argument('--out', help='write the metrics as JSON to this file')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file that holds other metrics')
    parser.add_argument('--amp', action='store_true',
                        help='evaluate under autocast (fp16 on CUDA, bf16 on a CPU)')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='pin_memory=False in every dataloader')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='persistent_workers=False in every dataloader')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint {args.checkpoint!r} not found.')
    cfg = load_run_config(args.config, args.work_dir, args.launcher, args.cfg_options)
    cfg.load_from, cfg.resume = args.checkpoint, False
    if args.amp:
        set_test_amp(cfg)
    set_dataloader_options(cfg, pin_memory=False if args.no_pin_memory else None,
                           persistent_workers=False if args.no_persistent_workers else None)
    setup_cpu_distributed(cfg, args.launcher)
    # The checkpoint is read weights-only (docs/pitfalls.md, "Weights-only torch.load").
    with safe_loading():
        runner = build_runner(cfg)
        metrics = runner.test()
    if args.out and runner.rank == 0:
        try:
            write_outputs({args.out: json_bytes({k: float(v) for k, v in metrics.items()})},
                          overwrite=args.overwrite)
        except OutputExistsError as err:
            raise SystemExit(f'error: {err}') from err


if __name__ == '__main__':
    main()
