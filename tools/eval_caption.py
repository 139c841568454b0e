"""Caption from image embeddings with a decoder that only saw text embeddings.

    python tools/eval_caption.py CONFIG CKPT --out DIR [--decoder-iters N]
        [--num-train N] [--num-test N] [--beam-size K] [--center] [--noise-std S]

CONFIG / CKPT: the model under test (a DualEncoder), loaded checked and
weights-only. The protocol is ``tpc_cma_mm.apis.caption_scores`` (its
embeddings are cached in DIR, keyed by the weights, the data sets and the
sizes). Writes DIR/caption_scores.json, DIR/captions.json and
DIR/caption_samples.png; if one exists the tool stops before writing anything
(cache and decoder included) unless --overwrite. A checkpoint that does not fit
CONFIG's model is refused with one line naming the keys.
"""
import argparse
import os.path as osp
import sys

import torch

from tpc_cma_mm.apis import (DECODER_CONFIG, caption_scores, checkpoint_id, init_model,
                             json_bytes, limit_dataset, load_config, write_outputs)
from tpc_cma_mm.apis.figures import sample_sheet
from tpc_cma_mm.apis.runner import errors_as_one_line
from tpc_cma_mm.utils.atomic_io import refuse_existing

OUTPUTS = ('captions.json', 'caption_scores.json', 'caption_samples.png')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config of the model under test')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--out', required=True, help='output and cache folder')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output files of other content')
    parser.add_argument('--decoder-config', default=DECODER_CONFIG)
    parser.add_argument('--decoder-iters', type=int, help='decoder training iterations')
    parser.add_argument('--num-train', type=int, help='train captions to embed (all if unset)')
    parser.add_argument('--num-test', type=int, help='test items to embed (all if unset)')
    parser.add_argument('--beam-size', type=int, help='1 = greedy (the config default)')
    parser.add_argument('--center', action='store_true', default=None, help='C3 centering')
    parser.add_argument('--noise-std', type=float, help='CapDec noise std while training')
    parser.add_argument('--no-meteor', action='store_true', help='skip METEOR (the slowest)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    outputs = [osp.join(args.out, name) for name in OUTPUTS]
    # Outputs there, a symbolic link, a full disk: one line, not a traceback.
    with errors_as_one_line(args.out):
        refuse_existing(outputs, args.overwrite)  # before the cache and decoder go into --out
        try:
            cfg = load_config(args.config)
            model = init_model(cfg, args.checkpoint,
                               'cuda' if torch.cuda.is_available() else 'cpu')
        except (OSError, RuntimeError, ValueError) as err:  # a missing or unfit checkpoint
            sys.exit(f'error: {err}')
        # The train split is embedded with the test pipeline: deterministic.
        pipeline = cfg.test_dataloader.dataset.get('pipeline')
        result = caption_scores(
            model, limit_dataset(cfg.train_dataloader.dataset, None, pipeline),
            cfg.test_dataloader.dataset, args.out, args.decoder_config, args.decoder_iters,
            args.num_train, args.num_test, args.beam_size, args.center, args.noise_std,
            not args.no_meteor)
        result.update(config=args.config, checkpoint=args.checkpoint,
                      checkpoint_sha256=checkpoint_id(args.checkpoint))
        to_rgb = bool(getattr(model.data_preprocessor, '_channel_conversion', False))
        write_outputs(dict(zip(outputs, (
            json_bytes(result['captions']),
            json_bytes({k: v for k, v in result.items() if k != 'captions'}),
            sample_sheet(result, to_rgb)))), args.overwrite)
    for modality in ('image', 'text'):
        print(f'{modality} embeddings: ' + ', '.join(
            f'{k} {v:.4f}' for k, v in result[modality].items()))


if __name__ == '__main__':
    main()
