"""Caption from image embeddings with a decoder that only saw text embeddings.

    python tools/eval_caption.py CONFIG CKPT --out DIR [--decoder-iters N]
        [--num-train N] [--num-test N] [--beam-size K] [--center] [--noise-std S]

CONFIG / CKPT: the model under test (a DualEncoder). Its train and test splits
are embedded once (cached in DIR, keyed by the checkpoint's content), a
CaptionDecoder is trained by mmengine's Runner on the *text* embeddings of the
train split, then it captions the held-out test images from their *image*
embeddings, and, as the ceiling, from the *text* embeddings of the same
samples. Writes DIR/caption_scores.json, DIR/captions.json and
DIR/caption_samples.png. Other tools call ``caption_scores(model, ...)``.
"""
import argparse
import copy
import hashlib
import json
import os
import os.path as osp
import time

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner, load_checkpoint

import tpc_cma_mm  # noqa: F401  (registers the plugin)
from tpc_cma_mm.datasets.embedding_captions import EmbeddingCaptions, cache_embeddings
from tpc_cma_mm.evaluation.metrics.caption import CaptionMetric
from tpc_cma_mm.models.captioner import vocab_from_tokens
from tpc_cma_mm.registry import MODELS

DECODER_CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs',
                          'captioning', 'caption-decoder_tiny_1xb128-1k_text-only.py')
SHEET_IMAGES = 12


def checkpoint_key(path: str) -> str:
    """First 12 hex digits of the checkpoint file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()[:12]


def _limit(dataset_cfg, num, pipeline=None) -> dict:
    cfg = copy.deepcopy(dataset_cfg)
    if pipeline is not None:
        cfg['pipeline'] = copy.deepcopy(pipeline)
    if num:
        cfg['indices'] = int(num)
    return cfg


def _decoder_cfg(path, cache_file, cache, work_dir, iters, overrides) -> Config:
    cfg = Config.fromfile(path)
    tokens = cache['train']['tokens']
    cfg.model.update(embed_dim=cache['train']['text_embeds'].shape[1],
                     vocab=vocab_from_tokens(tokens),
                     context_length=int(tokens.argmax(-1).max()) + 1)
    cfg.model.update({k: v for k, v in overrides.items() if k != 'center' and v is not None})
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.cache_file = cache_file
        if overrides.get('center') is not None:
            loader.dataset.center = overrides['center']
    if iters:  # rescale the schedule to the new length
        scale = iters / cfg.train_cfg.max_iters
        for sched in cfg.param_scheduler:
            sched.begin, sched.end = int(sched.begin * scale), max(1, int(sched.end * scale))
        cfg.train_cfg.max_iters = iters
        cfg.default_hooks.checkpoint.interval = iters
        cfg.default_hooks.logger.interval = max(1, iters // 10)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'caption_decoder_{time.strftime("%H%M%S")}_{os.urandom(3).hex()}'
    return cfg


@torch.no_grad()
def decode_and_score(decoder, dataset, batch_size: int = 256, meteor: bool = True):
    """Captions for every item of ``dataset`` and their CaptionMetric scores."""
    decoder.eval()
    metric, samples = CaptionMetric(meteor=meteor), []
    for start in range(0, len(dataset), batch_size):
        batch = pseudo_collate([dataset[i] for i in range(start, min(start + batch_size,
                                                                      len(dataset)))])
        samples += [s.to_dict() for s in decoder.test_step(batch)]
    metric.process(None, samples)
    scores = {k.split('/', 1)[-1]: v for k, v in metric.evaluate(len(samples)).items()}
    captions = [dict(img_id=s['img_id'], pred=s['pred_caption'], refs=s['gt_caption'])
                for s in samples]
    return scores, captions, metric.skipped


def caption_scores(model, train_dataset, test_dataset, out_dir: str, cache_key: str,
                   decoder_config: str = DECODER_CONFIG, decoder_iters=None,
                   num_train=None, num_test=None, beam_size=None, center=None,
                   noise_std=None, meteor: bool = True, batch_size: int = 256) -> dict:
    """Embed, train the decoder on text embeddings, score image and text captions.

    ``train_dataset`` / ``test_dataset`` are caption data set configs whose
    pipeline is deterministic. Returns ``dict(image=scores, text=scores,
    skipped=..., captions=dict(image=[...], text=[...]), ...)``; the cache
    ``out_dir/embeds_{cache_key}_{num_train}_{num_test}.pth`` is reused.
    """
    cache_file = osp.join(out_dir, f'embeds_{cache_key}_{num_train}_{num_test}.pth')
    cache = cache_embeddings(
        model, dict(train=_limit(train_dataset, num_train), test=_limit(test_dataset, num_test)),
        cache_file, batch_size, keep_images=SHEET_IMAGES, meta=dict(key=cache_key))
    cfg = _decoder_cfg(decoder_config, cache_file, cache, osp.join(out_dir, f'decoder_{cache_key}'),
                       decoder_iters, dict(beam_size=beam_size, noise_std=noise_std,
                                           center=center))
    runner = Runner.from_cfg(cfg)
    runner.train()
    decoder = runner.model
    result = dict(cache_key=cache_key, cache_file=cache_file, captions={},
                  num_train_captions=len(cache['train']['texts']),
                  decoder=dict(iters=cfg.train_cfg.max_iters, vocab=len(cfg.model.vocab),
                               beam_size=cfg.model.beam_size, noise_std=cfg.model.noise_std,
                               center=cfg.test_dataloader.dataset.center))
    for modality in ('image', 'text'):
        dataset = EmbeddingCaptions(cache_file, 'test', modality, group_by_image=True,
                                    center=cfg.test_dataloader.dataset.center)
        scores, captions, skipped = decode_and_score(decoder, dataset, batch_size, meteor)
        result[modality], result['captions'][modality] = scores, captions
        result['skipped'], result['num_test_images'] = skipped, len(dataset)
    return result


def sample_sheet(result: dict, cache_file: str, path: str, to_rgb: bool = False) -> None:
    """PNG grid: each held-out image with its reference and both generated captions."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from tpc_cma_mm.utils import safe_torch_load
    test = safe_torch_load(cache_file)['test']
    by_id = {c['img_id']: c for c in result['captions']['image']}
    text_by_id = {c['img_id']: c['pred'] for c in result['captions']['text']}
    cols = 4
    rows = max(1, (len(test['images']) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for ax, img, img_id in zip(axes.flat, test['images'], test['img_ids']):
        img = img.permute(1, 2, 0).numpy()
        ax.imshow(img[..., ::-1] if to_rgb else img)
        cap = by_id[int(img_id)]
        ax.set_title(f'ref: {cap["refs"][0]}\nimage: {cap["pred"]}\n'
                     f'text: {text_by_id[int(img_id)]}', fontsize=7, loc='left')
    fig.suptitle('Captions from image embeddings (decoder trained on text only)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config of the model under test')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--out', required=True, help='output and cache folder')
    parser.add_argument('--decoder-config', default=DECODER_CONFIG)
    parser.add_argument('--decoder-iters', type=int, help='decoder training iterations')
    parser.add_argument('--num-train', type=int, help='train captions to embed (all if unset)')
    parser.add_argument('--num-test', type=int, help='test items to embed (all if unset)')
    parser.add_argument('--beam-size', type=int, help='1 = greedy (the config default)')
    parser.add_argument('--center', action='store_true', default=None, help='C3 centering')
    parser.add_argument('--noise-std', type=float, help='CapDec noise std while training')
    parser.add_argument('--no-meteor', action='store_true', help='skip METEOR (the slowest)')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    if torch.cuda.is_available():
        model.cuda()
    os.makedirs(args.out, exist_ok=True)
    pipeline = cfg.test_dataloader.dataset.get('pipeline')
    result = caption_scores(
        model, _limit(cfg.train_dataloader.dataset, None, pipeline),
        cfg.test_dataloader.dataset, args.out, checkpoint_key(args.checkpoint),
        args.decoder_config, args.decoder_iters, args.num_train, args.num_test,
        args.beam_size, args.center, args.noise_std, not args.no_meteor)
    result.update(config=args.config, checkpoint=args.checkpoint)
    with open(osp.join(args.out, 'captions.json'), 'w') as f:
        json.dump(result['captions'], f, indent=1)
    with open(osp.join(args.out, 'caption_scores.json'), 'w') as f:
        json.dump({k: v for k, v in result.items() if k != 'captions'}, f, indent=2)
    sample_sheet(result, result['cache_file'], osp.join(args.out, 'caption_samples.png'),
                 to_rgb=bool(getattr(model.data_preprocessor, '_channel_conversion', False)))
    for modality in ('image', 'text'):
        print(f'{modality} embeddings: ' + ', '.join(
            f'{k} {v:.4f}' for k, v in result[modality].items()))


if __name__ == '__main__':
    main()
