"""The reproduction end to end: pretrain (cached), run every job, write the report.

::

    from tpc_cma_lab.reproduce import MODES, reproduce
    reproduce('configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py',
              'work_dirs/reproduce_quick', dict(MODES['quick']), jobs=2, threads=1,
              pretrain_config='configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py')

Every role (this process: timing, pretraining, a job run here; each pool worker)
runs at ``threads`` torch threads (default: the cores shared among the jobs),
recorded in the protocol and, with the libraries, the code, the CPU and the
original checkpoint's digest, in the report's ``results.json``
(``settings['environment']``).

Before the runs, a few training steps of the method config are timed on this
device and the fine-tuning budget's time is printed (:mod:`.step_time`); the
report carries it. Finished jobs are recorded in ``WORK_DIR/results.json`` (written atomically)
as they finish, so an interrupted reproduction resumes where it stopped; a
work dir of another protocol is refused (:mod:`.cache`).
"""
import contextlib
import heapq
import itertools
import multiprocessing
import os
import os.path as osp
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Dict, Iterator, List, Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope

from tpc_cma_mm.apis.fingerprint import config_digest
from tpc_cma_mm.apis.outputs import OutputExistsError, read_json
from ..engine import (Run, checkpoint_digest, environment, environment_key, load_records,
                      save_records, set_threads, train)
from ..report import write_report
from .cache import check_cache, check_work_dir, fingerprints
from .jobs import Job, run_job
from .step_time import measured_step_time, training_estimate
from .variants import TARGET_TOWERS, variants

__all__ = ['in_plan_order', 'reproduce']


def _check_report_dir(out_dir: str, command: str, overwrite: bool) -> None:
    """Refuse up front (not after hours of runs) to replace another command's report."""
    path = osp.join(out_dir, 'results.json')
    if osp.isfile(path) and not overwrite:
        previous = read_json(path, 'report').get('command')
        if previous != command:
            raise OutputExistsError(
                f'{out_dir} holds the report of another command ({previous!r}). Give another '
                '--out, or --overwrite to replace it.')


def in_plan_order(results: dict, planned: list) -> dict:
    """``results`` with the planned jobs' keys first, in plan order, then the others sorted:
    the report's sums over runs (R², means) must not depend on which parallel job
    finished first (two runs with bit-identical runs differed in R²'s last digit)."""
    keys = [key for key in planned if key in results]
    return {key: results[key] for key in keys + sorted(set(results) - set(keys))}


def _pretrain_run(config: str, work_dir: str, settings: dict, threads: int) -> Run:
    return Run(config=config, config_digest=config_digest(Config.fromfile(config)),
               work_dir=work_dir, seed=0, iters=settings['pretrain_iters'], threads=threads)


def _pretrain(run: Run) -> str:
    """The checkpoint of one pretraining (cached by the engine), in this process or a worker."""
    print(f'[pretrain] {run.config}, {run.iters} iterations', flush=True)
    return train(run, Config.fromfile(run.config))[0]


def _finished_jobs(pretrains: Dict[Optional[str], Run], known: Dict[Optional[str], str],
                   jobs_of: Callable[[Optional[str], str], List[Job]],
                   rank: Callable[[Job], tuple], pool: Optional[ProcessPoolExecutor],
                   slots: int = 1) -> Iterator[tuple]:
    """``(key, entry)`` of every job as it finishes. ``pretrains``: tower -> its pretraining
    (``None``: the method config's); ``known``: towers whose model exists already;
    ``jobs_of(tower, checkpoint)``: that tower's jobs. With a pool of ``slots`` workers, the
    other towers pretrain in its workers while this process pretrains the method config's,
    each tower's jobs become ready as soon as its model exists, and a free worker takes the
    ready job of lowest ``rank`` (the long fine-tunings before the short scorings, so that
    the last minutes do not leave a core idle)."""
    def method_config_first(towers):
        return sorted(towers, key=lambda tower: tower is not None)

    if pool is None:
        known.update({tower: _pretrain(run) for tower, run in pretrains.items()})
        for tower in method_config_first(known):
            yield from map(run_job, jobs_of(tower, known[tower]))
        return
    waiting = {pool.submit(_pretrain, run): tower for tower, run in pretrains.items()
               if tower is not None}
    if None in pretrains:
        known[None] = _pretrain(pretrains[None])
    ready, order, running = [], itertools.count(), set()

    def add(jobs: List[Job]) -> None:
        for job in jobs:
            heapq.heappush(ready, (rank(job), next(order), job))

    for tower in method_config_first(known):
        add(jobs_of(tower, known[tower]))
    while ready or running or waiting:
        while ready and len(running) + len(waiting) < slots:
            running.add(pool.submit(run_job, heapq.heappop(ready)[-1]))
        done, _ = wait(running | set(waiting), return_when=FIRST_COMPLETED)
        for future in done:
            if future in waiting:
                add(jobs_of(waiting.pop(future), future.result()))
            else:
                running.discard(future)
                yield future.result()


def _eta(start: float, done: int, total: int) -> str:
    minutes = (time.time() - start) / 60
    left = minutes / done * (total - done) if done else float('nan')
    return f'elapsed {minutes:.1f} min, about {left:.1f} min to go'


def reproduce(config: str, work_dir: str, settings: dict, jobs: int = 1,
              pretrain_config: Optional[str] = None, out_dir: Optional[str] = None,
              overwrite: bool = False, command: str = 'reproduce',
              timing_steps: int = 3, threads: Optional[int] = None) -> dict:
    """Run (or resume) the reproduction; returns the results of every run.

    ``pretrain_config=None`` takes the config's ``load_from`` as the original model.
    ``timing_steps`` training steps (the first a warm-up) are timed for the estimate.
    ``threads``: torch threads of every process (default: the cores over ``jobs``).
    """
    out_dir = out_dir or osp.join(work_dir, 'report')
    _check_report_dir(out_dir, command, overwrite)
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    set_threads(threads)
    base = Config.fromfile(config)
    # Data sets and models are also built outside a Runner (cached runs).
    init_default_scope(base.get('default_scope', 'tpc_cma_mm'))
    pretrain = Config.fromfile(pretrain_config) if pretrain_config else None
    towers = {name: TARGET_TOWERS[name] for name in settings.get('target_towers') or ()}
    settings = dict(settings, threads=threads, **environment_key(), **fingerprints(
        base, pretrain, None if pretrain else base.load_from, towers))
    results_file = osp.join(work_dir, 'results.json')
    results = load_records(results_file)
    check_cache(results, settings, results_file)
    os.makedirs(work_dir, exist_ok=True)
    check_work_dir(work_dir, settings)
    start = time.time()
    rows = variants(settings)
    planned = [(name, seed) for name in rows for seed in settings['seeds']]
    pending = [(name, seed) for name, seed in planned
               if Job.key_of(name, seed) not in results]
    trained = [job for job in planned if rows[job[0]].trained]
    # Timed before any long work; a step's time does not depend on the weights, so the
    # not yet pretrained original is timed from its initialisation.
    estimate = training_estimate(
        measured_step_time(base, None if pretrain else base.load_from, work_dir,
                           timing_steps), len(trained),
        len([job for job in trained if job in pending]), settings['finetune_iters'])
    print(f'[time] {estimate["text"]}', flush=True)
    print(f'[logs] each run logs to its own folder under {work_dir}', flush=True)
    pretrains = {name: _pretrain_run(paths['pretrain'], osp.join(work_dir, f'pretrain_{name}'),
                                     settings, threads) for name, paths in towers.items()}
    if pretrain is not None:
        pretrains[None] = _pretrain_run(pretrain_config, osp.join(work_dir, 'pretrain'),
                                        settings, threads)
    parallel = jobs > 1 and len(pending) + len(pretrains) > 1
    with contextlib.ExitStack() as stack:
        # spawn, not fork: a forked child of a process that has run OpenMP can hang; the
        # executor's workers are not daemons, so data loaders in them may start workers of
        # their own.
        pool = stack.enter_context(ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context('spawn'), initializer=set_threads,
            initargs=(threads, ))) if parallel else None
        print(f'{len(planned) - len(pending)} of {len(planned)} runs cached; '
              f'{len(pending)} to go, {jobs} at a time, each on {threads} thread(s)', flush=True)

        def jobs_of(tower: Optional[str], checkpoint: str) -> List[Job]:
            """The pending jobs of ``tower``, its pretrained model recorded in the report."""
            if tower is None:
                settings['environment'] = environment(threads, checkpoint)
            else:
                settings['environment'].setdefault('tower_checkpoints', {})[tower] = dict(
                    path=checkpoint, content_sha256=checkpoint_digest(checkpoint))
            return [Job(config=towers[tower]['config'] if tower else config, work_dir=work_dir,
                        settings=settings, original=checkpoint, variant=name, seed=seed,
                        progress=not parallel)
                    for name, seed in pending if rows[name].tower == tower]

        known = {} if pretrain is not None else {None: base.load_from}
        finished = _finished_jobs(
            pretrains, known, jobs_of,
            lambda job: (not rows[job.variant].trained, planned.index((job.variant, job.seed))),
            pool, jobs)
        for done, (key, entry) in enumerate(finished, start=1):
            results[key] = entry
            save_records(results, results_file)
            print(f'[{len(planned) - len(pending) + done}/{len(planned)}] {key} done  '
                  f'({_eta(start, done, len(pending))})', flush=True)
    results = in_plan_order(results, [Job.key_of(name, seed) for name, seed in planned])
    write_report(results, settings, out_dir, command, overwrite, estimate, work_dir)
    print(f'Report written to {out_dir} in {(time.time() - start) / 60:.1f} min')
    return results
