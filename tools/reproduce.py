"""Reproduce the paper's claims end to end, offline: ``python tools/reproduce.py --quick``.

Pretrains the tiny CLIP on generated captions (cached), fine-tunes every
baseline of SPEC.md with the same budget, evaluates each model with every
evaluator, and writes a report (markdown table, JSON, plots). With
``--config configs/cma_clip_b16.py --no-pretrain`` the same protocol runs at
real scale from converted CLIP weights and COCO (README, "Real-scale runs").
Finished runs and evaluations are cached in the work dir, so an interrupted
reproduction resumes where it stopped.
"""
import argparse
import contextlib
import copy
import json
import multiprocessing
import os
import os.path as osp
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'analysis'))
from eval_caption import caption_scores  # noqa: E402
from gap_report import embed_split, load_model  # noqa: E402
from reproduce_report import write_report  # noqa: E402

from tpc_cma_mm.evaluation.functional import embedding_suite  # noqa: E402

TINY_PRETRAIN = 'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py'
TINY_METHOD = 'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py'
MODES = dict(
    quick=dict(pretrain_iters=400, finetune_iters=100, seeds=[0], alphas=[0.05, 0.5],
               const_alphas=[0.5], decoder_iters=300, caption_train=3000, caption_test=300),
    full=dict(pretrain_iters=1000, finetune_iters=300, seeds=[0, 1, 2],
              alphas=[0.01, 0.05, 0.1, 0.2, 0.5], const_alphas=[0.05, 0.5],
              decoder_iters=1000, caption_train=None, caption_test=None))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='fewer seeds, alphas and iterations: < 10 min on 2 CPU cores')
    parser.add_argument('--config', default=TINY_METHOD,
                        help='a TPC-CMA config; every variant is derived from it')
    parser.add_argument('--pretrain-config', default=TINY_PRETRAIN)
    parser.add_argument('--no-pretrain', action='store_true',
                        help="use the config's load_from as the original model")
    parser.add_argument('--work-dir', help='default: work_dirs/reproduce, '
                        'work_dirs/reproduce_quick with --quick')
    parser.add_argument('--out', help='report directory (default: WORK_DIR/report)')
    parser.add_argument('--seeds', type=int, nargs='+')
    parser.add_argument('--alphas', type=float, nargs='+', help='TPC-CMA alpha_target values')
    parser.add_argument('--const-alphas', type=float, nargs='+', help='constant-alpha CMA values')
    for key in ('pretrain_iters', 'finetune_iters', 'decoder_iters', 'caption_train',
                'caption_test'):
        parser.add_argument('--' + key.replace('_', '-'), type=int)
    parser.add_argument('--jobs', type=int,
                        help='runs in parallel, one process each, the CPU cores shared '
                        'among them (default: 1 with a GPU, else the number of cores)')
    args = parser.parse_args(argv)
    if args.jobs is None:
        args.jobs = 1 if torch.cuda.is_available() else (os.cpu_count() or 1)
    if args.jobs < 1:
        raise ValueError(f'--jobs must be >= 1, got {args.jobs}')
    args.work_dir = args.work_dir or ('work_dirs/reproduce_quick' if args.quick
                                      else 'work_dirs/reproduce')
    settings = dict(MODES['quick' if args.quick else 'full'])
    settings.update({k: v for k, v in vars(args).items() if k in settings and v is not None})
    return args, settings


def set_iters(cfg: Config, iters: int) -> None:
    """Shorten or lengthen a schedule, scaling every scheduler boundary with it."""
    old = cfg.train_cfg.max_iters
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    for sched in cfg.get('param_scheduler', []):
        begin = round(sched.get('begin', 0) * iters / old)
        sched['begin'] = begin
        if 'end' in sched:
            sched['end'] = max(round(sched['end'] * iters / old), begin + 1)
    cfg.default_hooks.checkpoint.interval = iters


def variant_configs(base: Config, settings: dict) -> dict:
    """name -> (config or None for the original, post-hoc transform, alpha_target)."""
    plain = copy.deepcopy(base)
    plain.custom_hooks = [h for h in plain.get('custom_hooks', [])
                          if h['type'] != 'TPCCurriculumHook']
    variants = {'original': (None, None, 0.0),
                'posthoc mean-centering': (None, 'MeanCentering', 0.0),
                'posthoc gap shift': (None, dict(type='GapShift', lam=0.5), 0.0)}
    finetune = copy.deepcopy(plain)
    finetune.model.cma_loss = None
    variants['contrastive fine-tuning'] = (finetune, None, 0.0)
    for alpha in settings['const_alphas']:
        const = copy.deepcopy(plain)
        const.model.alpha = alpha
        variants[f'CMA const alpha={alpha}'] = (const, None, alpha)
    for alpha in settings['alphas']:
        tpc = copy.deepcopy(base)
        hooks = [h for h in tpc.custom_hooks if h['type'] == 'TPCCurriculumHook']
        if not hooks:
            raise ValueError(f'{base.filename} has no TPCCurriculumHook to vary alpha_target in.')
        hooks[0]['alpha_target'] = alpha
        variants[f'TPC-CMA alpha={alpha}'] = (tpc, None, alpha)
    return variants


def train(cfg: Config, work_dir: str, load_from: str, seed: int, iters: int) -> str:
    """Train once; a finished run's checkpoint is reused."""
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    if osp.isfile(ckpt):
        return ckpt
    cfg = copy.deepcopy(cfg)
    set_iters(cfg, iters)
    cfg.work_dir, cfg.load_from = work_dir, load_from
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.experiment_name = f'{osp.basename(work_dir)}_{time.time_ns()}'
    cfg.default_hooks.logger.interval = max(1, iters // 50)
    Runner.from_cfg(cfg).train()
    return ckpt


def evaluate(cfg: Config, ckpt: str, posthoc, key: str, settings: dict, out_dir: str) -> dict:
    model = load_model(cfg, ckpt)
    loader = Runner.build_dataloader(cfg.test_dataloader)
    embeds = embed_split(model, loader)
    prototypes = model.class_prototypes().cpu() if model.zero_shot else None
    metrics = embedding_suite(embeds['img'], embeds['text'], embeds['labels'],
                              embeds['img_ids'], prototypes, posthoc=posthoc)
    caption_train = copy.deepcopy(cfg.train_dataloader.dataset)
    caption_train.pipeline = cfg.test_dataloader.dataset.pipeline  # deterministic
    # Captioning after post-hoc mean-centering is C3's centred conditioning;
    # the gap shift has no decoder-side counterpart and is not captioned.
    if posthoc is None or posthoc == 'MeanCentering':
        scores = caption_scores(model, caption_train, cfg.test_dataloader.dataset, out_dir,
                                key, decoder_iters=settings['decoder_iters'],
                                num_train=settings['caption_train'],
                                num_test=settings['caption_test'],
                                center=posthoc == 'MeanCentering', meteor=False)
        metrics.update({f'caption_image/{k}': v for k, v in scores['image'].items()})
        metrics.update({f'caption_text/{k}': v for k, v in scores['text'].items()})
    return metrics


# The settings one run's numbers depend on; a cached run is reused only if they match.
PROTOCOL_KEYS = ('pretrain_iters', 'finetune_iters', 'decoder_iters', 'caption_train',
                 'caption_test')


def protocol(settings: dict) -> dict:
    return {key: settings[key] for key in PROTOCOL_KEYS}


def check_cache(results: dict, settings: dict, results_file: str) -> None:
    """Refuse to mix cached runs made with other settings into this report."""
    stale = sorted({json.dumps(e.get('protocol')) for e in results.values()
                    if e.get('protocol') != protocol(settings)})
    if stale:
        raise ValueError(
            f'{results_file} holds runs made with other settings ({", ".join(stale)}) than '
            f'this one ({json.dumps(protocol(settings))}). Give another --work-dir, or '
            'the same settings to resume that reproduction.')


def job_key(name: str, seed: int) -> str:
    return f'{name} | seed {seed}'


def run_job(job: tuple) -> tuple:
    """Fine-tune (unless post-hoc) and evaluate one variant with one seed."""
    args, settings, original, name, seed = job
    base = Config.fromfile(args.config)
    init_default_scope(base.get('default_scope', 'tpc_cma_mm'))
    cfg, posthoc, alpha = variant_configs(base, settings)[name]
    slug = name.replace(' ', '_').replace('=', '')
    ckpt = original if cfg is None else train(
        cfg, osp.join(args.work_dir, f'{slug}_seed{seed}'), original, seed,
        settings['finetune_iters'])
    torch.manual_seed(seed)
    metrics = evaluate(cfg or base, ckpt, posthoc, f'{slug}_seed{seed}', settings,
                       osp.join(args.work_dir, 'captioning'))
    return job_key(name, seed), dict(
        variant=name, seed=seed, alpha_target=alpha, protocol=protocol(settings),
        work_dir=None if cfg is None else osp.dirname(ckpt), metrics=metrics)


def main(argv=None):
    args, settings = parse_args(argv)
    out_dir = args.out or osp.join(args.work_dir, 'report')
    base = Config.fromfile(args.config)
    # Data sets and models are also built outside a Runner (cached runs).
    init_default_scope(base.get('default_scope', 'tpc_cma_mm'))
    results_file = osp.join(args.work_dir, 'results.json')
    results = json.load(open(results_file)) if osp.isfile(results_file) else {}
    check_cache(results, settings, results_file)
    start = time.time()
    if args.no_pretrain:
        original = base.load_from
    else:
        print(f'[pretrain] {args.pretrain_config}, {settings["pretrain_iters"]} iterations')
        original = train(Config.fromfile(args.pretrain_config),
                         osp.join(args.work_dir, 'pretrain'), None, 0,
                         settings['pretrain_iters'])
    jobs = [(name, seed) for name in variant_configs(base, settings)
            for seed in settings['seeds']]
    pending = [job for job in jobs if job_key(*job) not in results]
    print(f'{len(jobs) - len(pending)} of {len(jobs)} runs cached; '
          f'{len(pending)} to go, {args.jobs} at a time', flush=True)
    work = [(args, settings, original, name, seed) for name, seed in pending]
    with contextlib.ExitStack() as stack:
        if args.jobs == 1 or len(pending) <= 1:
            finished = map(run_job, work)
        else:
            # spawn, not fork: a forked child of a process that has run OpenMP can
            # hang; the executor's workers are not daemons, so data loaders in
            # them may start workers of their own.
            pool = stack.enter_context(ProcessPoolExecutor(
                min(args.jobs, len(pending)), mp_context=multiprocessing.get_context('spawn'),
                initializer=torch.set_num_threads,
                initargs=(max(1, (os.cpu_count() or 1) // args.jobs), )))
            finished = (f.result() for f in as_completed([pool.submit(run_job, w) for w in work]))
        for done, (key, entry) in enumerate(finished, start=len(jobs) - len(pending) + 1):
            results[key] = entry
            with open(results_file, 'w') as f:
                json.dump(results, f, indent=1)
            print(f'[{done}/{len(jobs)}] {key} done  '
                  f'(elapsed {(time.time() - start) / 60:.1f} min)', flush=True)
    write_report(results, settings, out_dir, command=' '.join(['python tools/reproduce.py'] + (argv or sys.argv[1:])))
    print(f'Report written to {out_dir} in {(time.time() - start) / 60:.1f} min')


if __name__ == '__main__':
    main()
