"""tools/eval_caption.py (over tpc_cma_mm.apis.caption_scores) on a tiny random CLIP and decoder."""
import json
import os.path as osp

import pytest
import torch
from tiny import tiny_dataset_cfg, tiny_model_cfg
from tool_runner import load_tool, run_tool

from tpc_cma_mm.apis import cache_embeddings, caption_scores, embed_split
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import safe_torch_load

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_configs(tmp_path):
    clip = tmp_path / 'tiny_clip.py'
    clip.write_text(f'''default_scope = 'tpc_cma_mm'
custom_imports = dict(imports=['tpc_cma_mm'], allow_failed_imports=False)
model = {tiny_model_cfg()!r}
train_dataloader = dict(batch_size=16, dataset={tiny_dataset_cfg('train', 48)!r})
test_dataloader = dict(batch_size=16, dataset={tiny_dataset_cfg('test', 8)!r})
''')
    decoder = tmp_path / 'tiny_decoder.py'
    base = osp.join(REPO, 'configs/captioning/caption-decoder_tiny_1xb128-1k_text-only.py')
    decoder.write_text(f'''_base_ = [{base!r}]
model = dict(width=32, num_layers=1, num_heads=2, prefix_length=2)
train_dataloader = dict(batch_size=16)
''')
    return str(clip), str(decoder)


@pytest.mark.slow  # trains a caption decoder and scores twice (end to end)
def test_eval_caption_end_to_end(tmp_path):
    clip_cfg, decoder_cfg = write_configs(tmp_path)
    torch.manual_seed(0)
    ckpt = tmp_path / 'clip.pth'
    torch.save(dict(state_dict=MODELS.build(tiny_model_cfg()).state_dict()), ckpt)
    out = tmp_path / 'out'
    args = ['tools/eval_caption.py', clip_cfg, ckpt, '--out', out, '--decoder-config',
            decoder_cfg, '--decoder-iters', '6', '--num-train', '40', '--num-test', '8',
            '--no-meteor']
    result = run_tool(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((out / 'caption_scores.json').read_text())
    for modality in ('image', 'text'):
        assert {'Bleu_1', 'Bleu_4', 'ROUGE_L', 'CIDEr'} <= scores[modality].keys()
        assert all(v >= 0 for v in scores[modality].values())
    assert 'SPICE' in scores['skipped'] and 'METEOR' in scores['skipped']
    assert scores['num_test_images'] == 8 and scores['num_train_captions'] == 40
    assert scores['decoder']['iters'] == 6
    captions = json.loads((out / 'captions.json').read_text())
    assert len(captions['image']) == len(captions['text']) == 8
    assert all(isinstance(c['pred'], str) and c['refs'] for c in captions['image'])
    png = (out / 'caption_samples.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    assert osp.isfile(scores['cache_file'])
    # A second run into the same folder writes other captions' bytes: refused.
    (out / 'captions.json').write_text('{"mine": 1}')
    again = run_tool(*args)
    assert again.returncode != 0 and 'Traceback' not in again.stderr
    assert 'Nothing was written' in again.stderr and '--overwrite' in again.stderr
    assert (out / 'captions.json').read_text() == '{"mine": 1}'


def test_eval_caption_refuses_an_unconverted_checkpoint(tmp_path):
    """strict=False used to leave the image tower random and write scores (exit 0)."""
    clip_cfg, decoder_cfg = write_configs(tmp_path)
    state = MODELS.build(tiny_model_cfg()).state_dict()
    foreign = {k.replace('visual.layers.', 'visual.transformer.resblocks.'): v
               for k, v in state.items()}
    torch.save(foreign, tmp_path / 'openai_layout.pth')
    # One line naming the keys and the fix (was: a CheckpointMismatchError traceback).
    with pytest.raises(SystemExit, match='(?s)^error: .*visual.layers.*convert_clip_weights'):
        load_tool('tools/eval_caption.py').main([
            clip_cfg, str(tmp_path / 'openai_layout.pth'), '--out', str(tmp_path / 'out'),
            '--decoder-config', decoder_cfg])
    assert not (tmp_path / 'out').exists()


def test_existing_outputs_are_refused_before_the_cache_and_decoder_are_written(tmp_path):
    """Before, the embedding cache and the decoder went into --out, then the outputs were
    refused with 'Nothing was written'."""
    clip_cfg, decoder_cfg = write_configs(tmp_path)
    ckpt = tmp_path / 'clip.pth'
    torch.save(dict(state_dict=MODELS.build(tiny_model_cfg()).state_dict()), ckpt)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'captions.json').write_text('{"mine": 1}')
    with pytest.raises(SystemExit, match='captions.json.*Nothing was written.*--overwrite'):
        load_tool('tools/eval_caption.py').main([
            clip_cfg, str(ckpt), '--out', str(out), '--decoder-config', decoder_cfg,
            '--decoder-iters', '2', '--num-train', '16', '--num-test', '8', '--no-meteor'])
    assert [p.name for p in out.iterdir()] == ['captions.json']


@pytest.mark.slow  # trains a caption decoder 4 times
def test_embedding_cache_is_keyed_by_model_and_data(tmp_path):
    """Another config (here: another test split) with the same --out used to reuse
    the old embeddings; the cache now follows the weights and both data sets."""
    _, decoder_cfg = write_configs(tmp_path)
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    train = tiny_dataset_cfg('train', 32)
    kwargs = dict(decoder_config=decoder_cfg, decoder_iters=2, meteor=False, progress=False)
    first = caption_scores(model, train, tiny_dataset_cfg('test', 8), str(tmp_path), **kwargs)
    other_test = tiny_dataset_cfg('test', 8, seed=1)
    second = caption_scores(model, train, other_test, str(tmp_path), **kwargs)
    assert first['cache_file'] != second['cache_file']
    cached = safe_torch_load(second['cache_file'])['test']
    expected = embed_split(model, other_test, progress=False)  # independent of the cache
    assert torch.allclose(cached['img_embeds'], expected['img'])
    assert cached['texts'] == expected['texts']
    torch.manual_seed(1)
    other_model = MODELS.build(tiny_model_cfg())
    third = caption_scores(other_model, train, other_test, str(tmp_path), **kwargs)
    assert third['cache_file'] not in (first['cache_file'], second['cache_file'])
    # Same inputs: the cache is reused, and a cache of other inputs is refused.
    again = caption_scores(model, train, other_test, str(tmp_path), **kwargs)
    assert again['cache_file'] == second['cache_file']
    with pytest.raises(ValueError, match='was made for'):
        cache_embeddings(model, {}, second['cache_file'], meta=dict(key='another'))


# What forked workers score: the model does not pickle, so the workers inherit it.
_SHARED = {}


def _score_shared(_):
    return caption_scores(*_SHARED['args'], **_SHARED['kwargs'])


@pytest.mark.slow  # two processes train one caption decoder
def test_two_processes_scoring_one_model_share_its_decoder_in_turn(tmp_path):
    """Parallel reproduction jobs score the pretrained model once per seed with one decoder
    folder; the second used to stop with WorkDirBusyError. Both now finish, equal to one
    process's scores."""
    import multiprocessing

    _, decoder_cfg = write_configs(tmp_path)
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    _SHARED.update(args=(model, tiny_dataset_cfg('train', 32), tiny_dataset_cfg('test', 8),
                         str(tmp_path)),
                   kwargs=dict(decoder_config=decoder_cfg, decoder_iters=20, meteor=False,
                               progress=False))
    with multiprocessing.get_context('fork').Pool(2) as pool:
        first, second = pool.map(_score_shared, range(2), chunksize=1)
    alone = _score_shared(None)
    for result in (first, second):
        assert (result['image'], result['text']) == (alone['image'], alone['text'])
