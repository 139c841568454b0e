"""Train a model from a config: ``python tools/train.py CONFIG [--work-dir DIR]``."""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Train with tpc_cma_mm')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the '
        'work dir when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (bf16 where supported, else fp16)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.alpha=0.1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Start gloo ourselves where mmengine would insist on CUDA (STACK.md, trap 2)."""
    if launcher == 'none' or torch.cuda.is_available():
        return
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group('gloo')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)


def build_config(args) -> Config:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'Config {args.config!r} not found.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    deepspeed = cfg.get('strategy', {}).get('type') == 'DeepSpeedStrategy'
    if args.amp and deepspeed:
        print('--amp: DeepSpeed sets precision in strategy.config (bf16 / fp16); '
              'the optim_wrapper stays DeepSpeedOptimWrapper.')
    elif args.amp:
        dtype = 'bfloat16' if (not torch.cuda.is_available()
                               or torch.cuda.is_bf16_supported()) else 'float16'
        # bf16 needs no loss scaling and runs on a CPU too (AutocastOptimWrapper);
        # float16 (GPUs without bf16) needs mmengine's AmpOptimWrapper.
        cfg.optim_wrapper.type = ('AutocastOptimWrapper' if dtype == 'bfloat16'
                                  else 'AmpOptimWrapper')
        cfg.optim_wrapper.dtype = dtype
        if dtype == 'float16':
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume == 'auto':
        # The newest *complete* checkpoint (a kill may have cut the last save
        # short); with none, start afresh from the config's load_from, if any.
        from tpc_cma_mm.utils.checkpoint import find_resumable_checkpoint
        found = find_resumable_checkpoint(cfg.work_dir)
        if found:
            cfg.resume, cfg.load_from = True, found
        else:
            print(f'--resume: no complete checkpoint in {cfg.work_dir}; starting afresh.')
            cfg.resume = False
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main():
    args = parse_args()
    cfg = build_config(args)
    setup_cpu_distributed(cfg, args.launcher)
    if 'runner_type' in cfg:  # e.g. FlexibleRunner with FSDP / DeepSpeed strategies
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
