"""The captioning protocol: caption images with a decoder that only saw text embeddings.

The model under test embeds a train and a test split once (a cache keyed by
its weights, both data set configs and the sizes); a ``CaptionDecoder`` is
trained by mmengine's Runner on the *text* embeddings of the train split, then
captions the test images from their *image* embeddings and, as the ceiling,
from the *text* embeddings of the same samples (docs/captioning.md)::

    from tpc_cma_mm.apis import caption_scores, init_model
    model = init_model(config, checkpoint)
    result = caption_scores(model, train_dataset_cfg, test_dataset_cfg, 'work_dirs/cap',
                            decoder_iters=300, num_train=3000, num_test=300)
    result['image']['CIDEr'], result['text']['CIDEr']
"""
import copy
import io
import os
import os.path as osp
import time
from typing import Dict, Optional

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from tqdm import tqdm

from tpc_cma_mm.datasets.embedding_captions import EmbeddingCaptions
from tpc_cma_mm.evaluation.metrics.caption import CaptionMetric
from tpc_cma_mm.models.captioner import vocab_from_tokens
from tpc_cma_mm.utils import safe_torch_load
from tpc_cma_mm.utils.checkpoint import DIGEST_KEY, content_digest
from tpc_cma_mm.utils.atomic_io import atomic_write
from tpc_cma_mm.utils.work_dir_lock import take_turns
from .embed import embed_split
from .fingerprint import digest, state_dict_digest
from .schedule import rescale_schedule

__all__ = ['DECODER_CONFIG', 'POSTHOC_CAPTIONING', 'SHEET_IMAGES', 'cache_embeddings',
           'caption_scores', 'config_caption_scores', 'decode_and_score', 'flat_caption_scores',
           'limit_dataset']

DECODER_CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs',
                          'captioning', 'caption-decoder_tiny_1xb128-1k_text-only.py')
SHEET_IMAGES = 12  # test images kept in the cache for the sample sheet
# The decoder options a model with a post-hoc fix (None: none) is captioned with: after
# mean-centering, C3's centred conditioning; the gap shift has no decoder-side
# counterpart, so a model with it is not captioned (None).
POSTHOC_CAPTIONING = {None: dict(center=False), 'MeanCentering': dict(center=True),
                      'GapShift': None}


def limit_dataset(dataset_cfg: dict, num: Optional[int], pipeline=None) -> dict:
    """A copy of ``dataset_cfg`` with its first ``num`` items (all if unset) and ``pipeline``.

    In test mode, the train split too: mmengine's data sets replace a sample the
    pipeline skips by another one outside test mode, which would put a duplicated
    pair into the embedding cache (docs/reliability.md).
    """
    cfg = copy.deepcopy(dataset_cfg)
    cfg['test_mode'] = True
    if pipeline is not None:
        cfg['pipeline'] = copy.deepcopy(pipeline)
    if num:
        cfg['indices'] = int(num)
    return cfg


def cache_embeddings(model, datasets: Dict[str, dict], path: str, batch_size: int = 256,
                     keep_images: int = 0, meta: Optional[dict] = None,
                     progress: bool = True) -> dict:
    """Embed each split of ``datasets`` once and save them to ``path`` (weights-only file).

    An existing ``path`` is reused only if it was made with the same ``meta``
    (what the embeddings depend on); otherwise it is refused.
    """
    meta = dict(meta or {})
    if osp.isfile(path):
        cache = safe_torch_load(path)  # checks the digest the cache records
        made_for = {k: v for k, v in cache.get('meta', {}).items() if k != DIGEST_KEY}
        if made_for != meta:
            raise ValueError(f'Embedding cache {path!r} was made for {made_for}, not '
                             f'for {meta}. Delete it, or give another output folder.')
        return cache
    cache = dict(meta=meta)
    for split, dataset in datasets.items():
        embeds = embed_split(model, dataset, batch_size, keep_images, progress,
                             desc=f'embed {split}')
        if None in embeds['texts']:
            raise KeyError(f'Split {split!r} has items without text: its pipeline needs '
                           "PackInputs(algorithm_keys=['text', 'text_tokens', 'img_id']).")
        cache[split] = dict(img_embeds=embeds['img'], text_embeds=embeds['text'],
                            tokens=embeds['tokens'], texts=embeds['texts'],
                            img_ids=embeds['img_ids'].tolist(), images=embeds['images'])
    cache['meta'][DIGEST_KEY] = content_digest(cache)  # what loading it verifies
    buffer = io.BytesIO()
    torch.save(cache, buffer)
    atomic_write(path, buffer.getvalue())  # parallel jobs may write the same cache
    return cache


def _decoder_cfg(path: str, cache_file: str, cache: dict, work_dir: str,
                 iters: Optional[int], overrides: dict) -> Config:
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
    if iters:
        rescale_schedule(cfg, iters)
        cfg.default_hooks.logger.interval = max(1, iters // 10)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'caption_decoder_{time.strftime("%H%M%S")}_{os.urandom(3).hex()}'
    return cfg


@torch.no_grad()
def decode_and_score(decoder, dataset, batch_size: int = 256, meteor: bool = True,
                     progress: bool = True):
    """Captions for every item of ``dataset`` and their CaptionMetric scores."""
    decoder.eval()
    metric, samples = CaptionMetric(meteor=meteor), []
    starts = range(0, len(dataset), batch_size)
    for start in tqdm(starts, desc='captioning', unit='batch', disable=not progress):
        stop = min(start + batch_size, len(dataset))
        samples += [s.to_dict() for s in
                    decoder.test_step(pseudo_collate([dataset[i] for i in range(start, stop)]))]
    metric.process(None, samples)
    scores = {k.split('/', 1)[-1]: v for k, v in metric.evaluate(len(samples)).items()}
    captions = [dict(img_id=s['img_id'], pred=s['pred_caption'], refs=s['gt_caption'])
                for s in samples]
    return scores, captions, metric.skipped


def caption_scores(model, train_dataset: dict, test_dataset: dict, out_dir: str,
                   decoder_config: str = DECODER_CONFIG, decoder_iters: Optional[int] = None,
                   num_train: Optional[int] = None, num_test: Optional[int] = None,
                   beam_size: Optional[int] = None, center: Optional[bool] = None,
                   noise_std: Optional[float] = None, meteor: bool = True,
                   batch_size: int = 256, progress: bool = True) -> dict:
    """Embed, train the decoder on text embeddings, score image and text captions.

    ``train_dataset`` / ``test_dataset`` are caption data set configs with a
    deterministic pipeline. Returns ``dict(image=scores, text=scores, skipped=...,
    captions=dict(image=[...], text=[...]), cache_file=..., decoder=...)``.
    The embedding cache ``out_dir/embeds_{key}.pth`` is keyed by the model's
    weights, both data set configs and ``num_train`` / ``num_test``.
    """
    meta = dict(weights=state_dict_digest(model), train=train_dataset, test=test_dataset,
                num_train=num_train, num_test=num_test)
    key = digest(meta)
    cache_file = osp.join(out_dir, f'embeds_{key}.pth')
    cache = cache_embeddings(
        model, dict(train=limit_dataset(train_dataset, num_train),
                    test=limit_dataset(test_dataset, num_test)),
        cache_file, batch_size, SHEET_IMAGES, dict(key=key), progress)
    overrides = dict(beam_size=beam_size, noise_std=noise_std, center=center)
    # One decoder folder per setting: parallel jobs never write one checkpoint.
    decoder_dir = osp.join(out_dir, 'decoder_' + digest(
        dict(key=key, config=decoder_config, iters=decoder_iters, **overrides)))
    cfg = _decoder_cfg(decoder_config, cache_file, cache, decoder_dir, decoder_iters, overrides)
    # Parallel jobs scoring one model need one decoder: they train it in turn (the same
    # deterministic weights), where the training lock would refuse the second.
    with take_turns(decoder_dir):
        return _train_and_decode(cfg, key, cache_file, cache, batch_size, meteor, progress)


def _train_and_decode(cfg: Config, key: str, cache_file: str, cache: dict, batch_size: int,
                      meteor: bool, progress: bool) -> dict:
    """Train the decoder of ``cfg`` and score its captions of both modalities."""
    runner = Runner.from_cfg(cfg)
    runner.train()
    center = cfg.test_dataloader.dataset.center
    result = dict(cache_key=key, cache_file=cache_file, captions={},
                  num_train_captions=len(cache['train']['texts']),
                  decoder=dict(iters=cfg.train_cfg.max_iters, vocab=len(cfg.model.vocab),
                               beam_size=cfg.model.beam_size, noise_std=cfg.model.noise_std,
                               center=center))
    for modality in ('image', 'text'):
        dataset = EmbeddingCaptions(cache_file, 'test', modality, group_by_image=True,
                                    center=center)
        scores, captions, skipped = decode_and_score(runner.model, dataset, batch_size, meteor,
                                                     progress)
        result[modality], result['captions'][modality] = scores, captions
        result['skipped'], result['num_test_images'] = skipped, len(dataset)
    return result


def config_caption_scores(model, cfg: Config, out_dir: str, **kwargs) -> dict:
    """``caption_scores`` on a model config's own data: the decoder learns from the train
    data set (with the deterministic test pipeline) and captions the test data set; the
    decoder config is ``cfg.reproduce.decoder_config`` (default: the tiny one). ``kwargs``
    go to ``caption_scores``."""
    train = copy.deepcopy(cfg.train_dataloader.dataset)
    train.pipeline = cfg.test_dataloader.dataset.pipeline
    decoder = (cfg.get('reproduce') or {}).get('decoder_config', DECODER_CONFIG)
    return caption_scores(model, train, cfg.test_dataloader.dataset, out_dir,
                          decoder_config=decoder, **kwargs)


def flat_caption_scores(scores: dict) -> Dict[str, float]:
    """``caption_image/<metric>`` and ``caption_text/<metric>`` of ``caption_scores``' result."""
    return {f'caption_{side}/{k}': v for side in ('image', 'text') for k, v in scores[side].items()}
