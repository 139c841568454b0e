"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out preds.npz]``.

The options are mmpretrain's ``tools/test.py`` options, applied by
``tpc_cma_mm.apis.runner``. The test set is scored, then ``val_cfg``'s extra sets
(``MultiValLoop``: zero-shot folders, other caption sets) unless ``test_cfg``
names its own or ``--no-extra-sets``. The metrics are logged to the work dir
(mmengine's ``<timestamp>.json``). ``--out`` dumps, as mmpretrain's does, the
predictions (``--out-item pred``, the default: every test sample's embeddings,
zero-shot scores, image id and label as ``.npz``, never a pickle) or the metrics
(``--out-item metrics``: ``.json``); it is written atomically, and an existing
file with other content is refused unless ``--overwrite``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction  # light; the plugin (torch, mmpretrain) is
# imported once the arguments are parsed, so that --help answers at once

SUFFIX = {'pred': '.npz', 'metrics': '.json'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate with tpc_cma_mm')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation logs go')
    parser.add_argument('--out', help='dump the predictions (.npz) or, with --out-item '
                        'metrics, the metrics (.json) to this file')
    parser.add_argument('--out-item', choices=['pred', 'metrics'], default='pred',
                        help="what --out holds (mmpretrain's option; default: pred)")
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file that holds other content')
    parser.add_argument('--no-extra-sets', action='store_true',
                        help="score the test set alone, not val_cfg's extra sets")
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
    if args.out and not args.out.endswith(SUFFIX[args.out_item]):
        parser.error(f'--out-item {args.out_item} is written as {SUFFIX[args.out_item]}; '
                     f'got --out {args.out} (add --out-item '
                     f"{'metrics' if args.out_item == 'pred' else 'pred'} or rename it).")
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    from tpc_cma_mm.apis.outputs import json_bytes, npz_bytes, write_outputs
    from tpc_cma_mm.apis.runner import (build_runner, dump_test_embeddings,
                                        errors_as_one_line, load_run_config,
                                        score_extra_sets_in_test, set_dataloader_options,
                                        set_test_amp, setup_cpu_distributed)
    from tpc_cma_mm.utils import safe_loading
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint {args.checkpoint!r} not found.')
    cfg = load_run_config(args.config, args.work_dir, args.launcher, args.cfg_options)
    cfg.load_from, cfg.resume = args.checkpoint, False
    if not args.no_extra_sets:
        names = score_extra_sets_in_test(cfg)
        if names:
            print(f"tools/test.py: also scoring val_cfg's extra sets {names} "
                  '(--no-extra-sets to skip them)')
    if args.out and args.out_item == 'pred':
        dump_test_embeddings(cfg)
    if args.amp:
        set_test_amp(cfg)
    set_dataloader_options(cfg, pin_memory=False if args.no_pin_memory else None,
                           persistent_workers=False if args.no_persistent_workers else None)
    setup_cpu_distributed(cfg, args.launcher)
    # A full disk, an --out of other content or a symbolic link: one line, not a traceback.
    with errors_as_one_line(cfg.work_dir):
        with safe_loading():  # the checkpoint is read weights-only (docs/pitfalls.md, "Weights-only torch.load")
            runner = build_runner(cfg)
            metrics = runner.test()
        if args.out and runner.rank == 0:
            if args.out_item == 'metrics':
                data = json_bytes({k: float(v) for k, v in metrics.items()})
            else:
                dump, = [m for m in runner.test_loop.evaluator.metrics
                         if type(m).__name__ == 'DumpEmbeddings']
                data = npz_bytes(dump.arrays)
            write_outputs({args.out: data}, overwrite=args.overwrite)


if __name__ == '__main__':
    main()
