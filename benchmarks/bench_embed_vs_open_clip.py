"""Embedding throughput: DualEncoder ``tensor`` mode vs open_clip encode_image / encode_text.

Same architecture and the same weights (open_clip's, copied into ours; the
script checks the embeddings agree), eval mode, ``torch.no_grad``, both
returning L2-normalised embeddings. Contenders are called in turn every round
and the medians' ratio is printed (images/s and texts/s).

Text is measured twice: realistic captions (6-14 words, padded to the context)
and captions that fill the whole context, where no model can stop early.

CPU:  python -m benchmarks.bench_embed_vs_open_clip --arch tiny --batch 256
GPU:  python -m benchmarks.bench_embed_vs_open_clip --arch vit-b16 --batch 256 --amp
"""
import contextlib

import torch

from benchmarks.common import (build_open_clip, build_ours, comparison_parser,
                               copy_open_clip_weights, interleaved, load_average, machine,
                               make_batch, set_threads, write_rows)


def main():
    args = comparison_parser(__doc__.split('\n')[0], batch=256).parse_args()
    dev = set_threads(args.threads)
    torch.manual_seed(0)
    theirs = build_open_clip(args.arch).eval()
    ours = build_ours(args.arch).eval()
    copy_open_clip_weights(ours, theirs)
    ours.to(dev)
    theirs.to(dev)
    images, tokens = make_batch(args.arch, args.batch)
    _, full = make_batch(args.arch, args.batch, full_length=True, seed=1)
    images, tokens, full = images.to(dev), tokens.to(dev), full.to(dev)
    autocast = (lambda: torch.autocast(dev.type, torch.bfloat16)) if args.amp else (
        contextlib.nullcontext)

    def run(fn):
        def call():
            with torch.no_grad(), autocast():
                return fn()
        return call

    fns = {
        ('image', 'open_clip'): run(lambda: theirs.encode_image(images, normalize=True)),
        ('image', 'ours'): run(lambda: ours(images, mode='tensor')['img_embeds']),
        ('text', 'open_clip'): run(lambda: theirs.encode_text(tokens, normalize=True)),
        ('text', 'ours'): run(lambda: ours(text_tokens=tokens, mode='tensor')['text_embeds']),
        ('text, full context', 'open_clip'): run(
            lambda: theirs.encode_text(full, normalize=True)),
        ('text, full context', 'ours'): run(
            lambda: ours(text_tokens=full, mode='tensor')['text_embeds']),
    }
    diffs = {key[0]: (fns[(key[0], 'ours')]().float() - fn().float()).abs().max().item()
             for key, fn in fns.items() if key[1] == 'open_clip'}
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    load_before = load_average()
    med = interleaved(fns, args.rounds, args.warmup, sync)

    print(f'# before: {load_before}; after: {load_average()}')
    print(f'# embed, arch={args.arch} batch={args.batch} amp={args.amp} '
          f'caption tokens={int(tokens.argmax(-1).max()) + 1}/{tokens.shape[1]}')
    print(f'# {machine()}; rounds={args.rounds}; max |diff| ours vs open_clip: '
          + ', '.join(f'{k} {v:.1e}' for k, v in diffs.items()))
    print(f'{"input":<20}{"open_clip /s":>14}{"ours /s":>12}{"ratio":>8}')
    rows = []
    for what in ('image', 'text', 'text, full context'):
        t_theirs, t_ours = med[(what, 'open_clip')], med[(what, 'ours')]
        print(f'{what:<20}{args.batch / t_theirs:>14.1f}{args.batch / t_ours:>12.1f}'
              f'{t_theirs / t_ours:>8.3f}')
        rows.append(dict(contender=f'ours, {what}', samples_per_s=round(args.batch / t_ours, 1),
                         open_clip_per_s=round(args.batch / t_theirs, 1),
                         ratio_vs_open_clip=round(t_theirs / t_ours, 3)))
    write_rows(args.json, 'embedding', f'{args.arch} batch {args.batch} amp {args.amp}', rows)


if __name__ == '__main__':
    main()
