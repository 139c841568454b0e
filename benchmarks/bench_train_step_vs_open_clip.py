"""Training-step throughput and memory: our DualEncoder vs open_clip's CLIP.

Both models have the same architecture and start from the same random weights
(open_clip's, copied into ours; the script first checks the embeddings agree).
Each round runs one step of each contender in turn, so machine load hits them
alike; the medians' ratio is printed.

* ``open_clip``: ``model(images, texts)`` + ``ClipLoss`` + backward + AdamW
  step + logit-scale clamp (open_clip's training loop).
* ``ours (model step)``: ``model(..., mode='loss')`` + ``parse_losses`` +
  ``OptimWrapper.update_params`` (AdamW): what ``train_step`` does after the
  data preprocessor, on the same float tensors.
* ``ours (train_step)``: mmengine's whole ``train_step``, also normalising a
  uint8 batch and stacking per-sample tokens (work open_clip does in its
  dataloader workers).

Memory: on a GPU the allocator peak of one step; on a CPU the bytes of the
activations autograd saves for backward (no CPU allocator peak exists).

Efficiency: the FLOPs of one step of each contender are counted with
``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions and
attention, forward and backward), divided by its median step time and by the
machine's matmul rate measured in the same run (square products in the
step's dtype; ``benchmarks.common.matmul_rate``). "executed" counts what each
implementation runs (ours skips work open_clip does); "model" divides
open_clip's count by each step time: the useful-work rate, comparable between
the two (model FLOPs utilisation).

CPU:  python -m benchmarks.bench_train_step_vs_open_clip --arch tiny --batch 128
GPU:  python -m benchmarks.bench_train_step_vs_open_clip --arch vit-b16 --batch 256 --amp
"""
import contextlib

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import (build_open_clip, build_ours, comparison_parser,
                               copy_open_clip_weights, interleaved, load_average, machine,
                               make_batch, matmul_rate, saved_tensor_bytes, set_threads,
                               write_rows)


def parse_args():
    p = comparison_parser(__doc__.split('\n')[0], batch=128)
    p.add_argument('--grad-ckpt', action='store_true', help='gradient checkpointing in both')
    p.add_argument('--full-length', action='store_true',
                   help='captions fill the whole context (no early-EOT saving)')
    return p.parse_args()


def counted_flops(step) -> int:
    """FLOPs of one call of ``step`` (forward, backward, optimizer step)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def main():
    args = parse_args()
    dev = set_threads(args.threads)
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.structures import DataSample
    from open_clip.loss import ClipLoss
    from tpc_cma_mm.models.tower_config import set_grad_checkpointing

    torch.manual_seed(0)
    theirs = build_open_clip(args.arch)
    ours = build_ours(args.arch)
    copy_open_clip_weights(ours, theirs)
    images, tokens = make_batch(args.arch, args.batch, args.full_length)
    with torch.no_grad():
        diff = (ours.eval()(images[:4], text_tokens=tokens[:4])['img_embeds'] -
                theirs.eval().encode_image(images[:4], normalize=True)).abs().max()
    ours.to(dev).train()
    theirs.to(dev).train()
    if args.grad_ckpt:
        theirs.set_grad_checkpointing(True)
        set_grad_checkpointing(ours, True)
    images, tokens = images.to(dev), tokens.to(dev)
    raw = (images * 60 + 120).clamp(0, 255).to(torch.uint8)
    samples = [DataSample(text_tokens=t) for t in tokens]

    # What tools/train.py --amp selects for bf16 (no loss scaling, as open_clip's amp_bf16).
    amp = dict(type='AutocastOptimWrapper', dtype='bfloat16') if args.amp else dict(
        type='OptimWrapper')
    optim = dict(type='AdamW', lr=1e-5, weight_decay=0.1)
    wrapper = build_optim_wrapper(ours, dict(optimizer=optim, **amp))
    their_opt = torch.optim.AdamW(theirs.parameters(), lr=1e-5, weight_decay=0.1)
    clip_loss = ClipLoss()
    autocast = (lambda: torch.autocast(dev.type, torch.bfloat16)) if args.amp else (
        contextlib.nullcontext)

    def their_forward():
        with autocast():
            img, txt, scale = theirs(images, tokens)
            return clip_loss(img, txt, scale)

    def their_step():
        their_opt.zero_grad(set_to_none=True)
        their_forward().backward()
        their_opt.step()
        with torch.no_grad():
            theirs.logit_scale.clamp_(0, 4.6052)

    def our_forward():
        with wrapper.optim_context(ours):
            return ours.parse_losses(ours(images, text_tokens=tokens, mode='loss'))[0]

    def our_step():
        wrapper.update_params(our_forward())

    def our_train_step():
        ours.train_step(dict(inputs=raw, data_samples=samples), wrapper)

    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    fns = {'open_clip': their_step, 'ours (model step)': our_step,
           'ours (train_step)': our_train_step}
    step_dtype = torch.bfloat16 if args.amp else torch.float32
    peak = matmul_rate(step_dtype, str(dev), args.peak_size)
    flops = {name: counted_flops(fn) for name, fn in fns.items()}
    load_before = load_average()
    med = interleaved(fns, args.rounds, args.warmup, sync)
    peak = max(peak, matmul_rate(step_dtype, str(dev), args.peak_size))

    print(f'# train step, arch={args.arch} batch={args.batch} amp={args.amp} '
          f'grad_ckpt={args.grad_ckpt} full_length={args.full_length} '
          f'text_len={int(tokens.argmax(-1).max()) + 1}/{tokens.shape[1]}')
    print(f'# {machine()}; rounds={args.rounds}; embeds max |diff| at equal weights: {diff:.2e}')
    print(f'# before: {load_before}; after: {load_average()}')
    print(f'# matmul peak ({str(step_dtype).split(".")[1]}, measured in this run): '
          f'{peak / 1e12:.3f} TFLOP/s')
    base = med['open_clip']
    print(f'{"contender":<20}{"ms/step":>10}{"samples/s":>12}{"ratio vs open_clip":>20}'
          f'{"GFLOP/step":>12}{"executed % peak":>17}{"model % peak":>14}')
    for name, t in med.items():
        print(f'{name:<20}{t * 1e3:>10.1f}{args.batch / t:>12.1f}{base / t:>20.3f}'
              f'{flops[name] / 1e9:>12.2f}{100 * flops[name] / t / peak:>16.1f}%'
              f'{100 * flops["open_clip"] / t / peak:>13.1f}%')

    mems = {}
    for name, model, fwd in (('open_clip', theirs, their_forward), ('ours', ours, our_forward)):
        if dev.type == 'cuda':  # peak above what both models and optimizers hold
            torch.cuda.empty_cache()
            sync()
            resident = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            (our_step if name == 'ours' else their_step)()
            sync()
            mems[name] = torch.cuda.max_memory_allocated() - resident
        else:
            mems[name] = saved_tensor_bytes(fwd, model)
    kind = ('peak allocated during a step, above the resident weights and optimizer state'
            if dev.type == 'cuda' else 'activations saved for backward')
    print(f'# memory ({kind}): open_clip {mems["open_clip"] / 2**20:.1f} MiB, '
          f'ours {mems["ours"] / 2**20:.1f} MiB, ratio ours/open_clip '
          f'{mems["ours"] / mems["open_clip"]:.3f}')
    rows = [dict(contender=name, ms_per_step=round(t * 1e3, 2),
                 samples_per_s=round(args.batch / t, 1), ratio_vs_open_clip=round(base / t, 3),
                 executed_pct_peak=round(100 * flops[name] / t / peak, 1),
                 model_pct_peak=round(100 * flops['open_clip'] / t / peak, 1),
                 memory_mib=round(mems['ours' if name.startswith('ours') else name] / 2**20, 1))
            for name, t in med.items()]
    write_rows(args.json, 'train step', f'{args.arch} batch {args.batch} amp {args.amp}; '
               f'peak {peak / 1e12:.3f} TFLOP/s; memory: {kind}', rows)


if __name__ == '__main__':
    main()
