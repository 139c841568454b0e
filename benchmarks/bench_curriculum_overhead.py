"""Step-time overhead of TPC-CMA (CMA loss + curriculum hook + gradient probe)
over plain contrastive training of the same model; target ratio <= 1.05.

    python -m benchmarks.bench_curriculum_overhead [--arch tiny] [--batch 128]
        [--combine grad_share]

With ``--combine grad_share`` (the shipped configs' combination) the gradient
norms are measured in every step, not every K-th.

One timed unit is a block of K (= --interval) consecutive training steps, so
each block holds exactly one probed step and the probe's cost is amortised as
in training. The two contenders run alternately, block by block (interleaved),
so they see the same machine load; the medians of their block times are compared.
"""
import argparse
from types import SimpleNamespace

import torch
from mmengine.logging import MessageHub

from benchmarks.common import (build_ours, interleaved, load_average, machine, make_batch,
                               write_rows)
from tpc_cma_mm.engine.hooks import TPCCurriculumHook


def make_trainer(model, batch, hook=None, max_iters=10**6):
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images, tokens = batch
    runner = SimpleNamespace(model=model, iter=0, max_iters=max_iters,
                             message_hub=MessageHub.get_instance(f'bench_{id(model)}'))
    model.train()
    if hook is not None:
        hook.before_train(SimpleNamespace(model=model, iter=0, max_iters=max_iters,
                                          logger=None))

    def step():
        if hook is not None:
            hook.before_train_iter(runner, runner.iter)
        losses = model(images, text_tokens=tokens, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if hook is not None:
            hook.after_train_iter(runner, runner.iter, outputs=log_vars)
        runner.iter += 1
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='tiny')
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--interval', type=int, default=10, help='probe interval K')
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--pcgrad', action='store_true')
    parser.add_argument('--combine', default='convex', choices=['convex', 'additive', 'grad_share'])
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (1: steadier on a shared CPU)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--json', default=None, help='also write the result rows to this file')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    batch = [t.to(args.device) for t in make_batch(args.arch, args.batch)]
    torch.manual_seed(0)
    plain = build_ours(args.arch).to(args.device)
    torch.manual_seed(0)
    tpc = build_ours(args.arch, cma_loss=dict(type='CMALoss'), combine=args.combine,
                     grad_probe=dict(pcgrad=args.pcgrad)).to(args.device)
    # phases (0, 1, 0): alpha > 0 from the first step, so every term is live
    # grad_share probes every step: a probe interval is refused there
    hook = TPCCurriculumHook(alpha_target=0.5, phases=(0.0, 1.0, 0.0),
                             probe_interval=None if args.combine == 'grad_share'
                             else args.interval)
    steps = {'contrastive': make_trainer(plain, batch),
             'tpc_cma': make_trainer(tpc, batch, hook, max_iters=100 * args.interval)}

    def block(fn):
        return lambda: [fn() for _ in range(args.interval)]

    sync = torch.cuda.synchronize if args.device.startswith('cuda') else (lambda: None)
    med = interleaved({k: block(v) for k, v in steps.items()}, rounds=args.rounds,
                      warmup=1, sync=sync)
    ratio = med['tpc_cma'] / med['contrastive']
    print(f'machine: {machine()}; {load_average()}')
    print(f'arch {args.arch}, batch {args.batch}, K {args.interval}, combine {args.combine}, '
          f'pcgrad {args.pcgrad}, {args.rounds} interleaved blocks of {args.interval} steps')
    for name, sec in med.items():
        print(f'  {name:12s} median step {1000 * sec / args.interval:8.1f} ms')
    print(f'  probes run: {hook.state["probes"]}, last alpha {hook.state["alpha"]:.4f}')
    print(f'overhead ratio tpc_cma / contrastive = {ratio:.3f} '
          f'({"meets" if ratio <= 1.05 else "misses"} the <= 1.05 target)')
    write_rows(args.json, 'curriculum overhead',
               f'{args.arch} batch {args.batch} K {args.interval} {args.combine}; target <= 1.05',
               [dict(contender=name, ms_per_step=round(1000 * sec / args.interval, 2),
                     ratio_vs_contrastive=round(sec / med['contrastive'], 3))
                for name, sec in med.items()])


if __name__ == '__main__':
    main()
