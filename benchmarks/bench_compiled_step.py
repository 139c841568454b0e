"""The TPC-CMA training step compiled (``torch.compile``, what mmengine's ``compile`` option
applies) vs eager: same losses, step time after compilation, and the compile time.

One DualEncoder with the CMA loss at a fixed weight (alpha 0.5, convex). The
script first checks that the compiled forward gives eager's losses, then times
both steps (forward, backward, AdamW) in turn on the same batch.

CPU:  python -m benchmarks.bench_compiled_step --arch tiny --batch 64
GPU:  python -m benchmarks.bench_compiled_step --arch vit-b16 --batch 256 --amp
"""
import time

import torch

from benchmarks.common import (build_ours, comparison_parser, interleaved, load_average,
                               machine, make_batch, set_threads, write_rows)


def main():
    parser = comparison_parser(__doc__.split('\n')[0], batch=64)
    parser.add_argument('--backend', default='inductor',
                        help="torch.compile backend ('aot_eager': the same graph capture "
                        'without code generation, quick on a CPU)')
    args = parser.parse_args()
    dev = set_threads(args.threads)
    from mmengine.optim import build_optim_wrapper

    torch.manual_seed(0)
    model = build_ours(args.arch, cma_loss=dict(type='CMALoss'), alpha=0.5).to(dev).train()
    compiled = torch.compile(model, backend=args.backend)
    images, tokens = make_batch(args.arch, args.batch)
    images, tokens = images.to(dev), tokens.to(dev)
    amp = dict(type='AutocastOptimWrapper', dtype='bfloat16') if args.amp else dict(
        type='OptimWrapper')
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-5), **amp))
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)

    def losses(net):
        with wrapper.optim_context(model):
            return net(images, text_tokens=tokens, mode='loss')

    start = time.perf_counter()
    got = losses(compiled)  # the first call compiles
    sync()
    compile_s = time.perf_counter() - start
    want = losses(model)
    diff = max(abs(float(got[k]) - float(want[k])) for k in want if k.startswith('loss'))

    def step(net):
        def call():
            wrapper.update_params(model.parse_losses(losses(net))[0])
        return call

    load_before = load_average()
    med = interleaved({'eager': step(model), 'compiled': step(compiled)}, args.rounds,
                      args.warmup, sync)
    print(f'# before: {load_before}; after: {load_average()}')
    print(f'# compiled TPC-CMA step ({args.backend}), arch={args.arch} batch={args.batch} '
          f'amp={args.amp}; '
          f'{machine()}; rounds={args.rounds}')
    print(f'# compile (first call) {compile_s:.1f} s; max |loss diff| compiled vs eager: '
          f'{diff:.1e}')
    print(f'{"contender":<12}{"ms/step":>10}{"samples/s":>12}{"ratio vs eager":>16}')
    rows = []
    for name in ('eager', 'compiled'):
        t = med[name]
        print(f'{name:<12}{t * 1e3:>10.1f}{args.batch / t:>12.1f}{med["eager"] / t:>16.3f}')
        rows.append(dict(contender=name, ms_per_step=round(t * 1e3, 2),
                         samples_per_s=round(args.batch / t, 1),
                         ratio_vs_eager=round(med['eager'] / t, 3)))
    write_rows(args.json, 'compiled step', f'{args.arch} batch {args.batch} amp {args.amp} '
               f'backend {args.backend}; '
               f'compile {compile_s:.1f} s; max |loss diff| {diff:.1e}', rows)


if __name__ == '__main__':
    main()
