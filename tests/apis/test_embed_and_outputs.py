"""apis.embed_split (the one embedding loop), apis.outputs and apis.rescale_schedule."""
import json
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from tiny import tiny_dataset_cfg
from tpc_cma_mm.apis import (OutputExistsError, embed_split, read_json, rescale_schedule,
                             write_outputs)
from tpc_cma_mm.registry import DATASETS


def test_embed_split_equals_a_forward_by_hand_and_shows_progress(tiny_model, capsys):
    dataset_cfg = tiny_dataset_cfg('test', 10)
    embeds = embed_split(tiny_model, dataset_cfg, batch_size=4, keep_images=3)
    dataset = DATASETS.build(dataset_cfg)
    items = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([item['inputs'] for item in items])
    tokens = torch.stack([item['data_samples'].text_tokens for item in items])
    packed = tiny_model.data_preprocessor(dict(inputs=list(images), data_samples=None), False)
    with torch.no_grad():
        want = tiny_model(packed['inputs'], text_tokens=tokens, mode='tensor')
    assert torch.allclose(embeds['img'], want['img_embeds'], atol=1e-6)
    assert torch.allclose(embeds['text'], want['text_embeds'], atol=1e-6)
    assert torch.equal(embeds['tokens'], tokens)
    assert embeds['texts'] == [item['data_samples'].text for item in items]
    assert embeds['img_ids'].tolist() == [int(item['data_samples'].img_id) for item in items]
    assert torch.equal(embeds['images'], images[:3])
    # A progress bar with the batch count and a time estimate, on stderr.
    assert re.search(r'embedding: 100%.*3/3 \[\d\d:\d\d<\d\d:\d\d', capsys.readouterr().err)


def test_a_repeated_image_is_embedded_once_and_every_row_keeps_its_own(tiny_model,
                                                                      monkeypatch):
    """One row per caption repeats an image: the tower sees it once per batch; a row with
    the same img_id but other pixels (a random pipeline) is embedded on its own."""
    dataset = DATASETS.build(tiny_dataset_cfg('test', 4))
    items = [dataset[i] for i in range(4)]
    other_pixels = dict(items[2], data_samples=items[1]['data_samples'].clone())
    rows = [items[0], items[0], items[0], items[1], other_pixels, items[1], items[3]]
    embedded = []
    encode_image = tiny_model.encode_image
    monkeypatch.setattr(tiny_model, 'encode_image',
                        lambda images: embedded.append(len(images)) or encode_image(images))
    got = embed_split(tiny_model, rows, batch_size=len(rows), progress=False)
    assert embedded == [4]  # items 0, 1, 3 and the other pixels
    packed = tiny_model.data_preprocessor(
        dict(inputs=[r['inputs'] for r in rows], data_samples=None), False)
    with torch.no_grad():
        want = F.normalize(encode_image(packed['inputs']), dim=-1)
    assert torch.allclose(got['img'], want, atol=1e-6)
    assert not torch.allclose(got['img'][4], got['img'][3])
    assert got['img_ids'].tolist() == [int(r['data_samples'].img_id) for r in rows]


def test_embed_split_without_tokens_names_the_fix(tiny_model):
    dataset_cfg = tiny_dataset_cfg('test', 4, pipeline=[dict(type='PackInputs')])
    with pytest.raises(KeyError, match='TokenizeCaption'):
        embed_split(tiny_model, dataset_cfg, progress=False)


def test_write_outputs_refuses_other_content_and_writes_nothing(tmp_path):
    a, b = tmp_path / 'a.json', tmp_path / 'b.png'
    b.write_bytes(b'mine')
    with pytest.raises(OutputExistsError, match=r'b\.png.*--overwrite'):
        write_outputs({str(a): b'1', str(b): b'2'})
    assert not a.exists() and b.read_bytes() == b'mine'
    write_outputs({str(a): b'1', str(b): b'mine'})  # the same bytes: no conflict
    write_outputs({str(a): b'1', str(b): b'2'}, overwrite=True)
    assert b.read_bytes() == b'2'
    assert not [p for p in tmp_path.iterdir() if p.name.endswith('.partial')]


def test_read_json_names_a_corrupt_file(tmp_path):
    path = tmp_path / 'results.json'
    path.write_text(json.dumps({'a': 1})[:-2])
    with pytest.raises(ValueError, match='results.json.*not valid JSON.*Move it away'):
        read_json(str(path), 'results cache')


def test_rescale_schedule_keeps_every_scheduler_at_least_one_iteration():
    cfg = Config(dict(
        train_cfg=dict(max_iters=1000), default_hooks=dict(checkpoint=dict(interval=1000)),
        param_scheduler=[dict(type='LinearLR', begin=0, end=100),
                         dict(type='CosineAnnealingLR', begin=100, end=1000)]))
    rescale_schedule(cfg, 3)
    (warmup, cosine) = cfg.param_scheduler
    assert (warmup.begin, warmup.end, cosine.begin, cosine.end) == (0, 1, 0, 3)
    assert cfg.train_cfg.max_iters == cfg.default_hooks.checkpoint.interval == 3
    with pytest.raises(ValueError, match='at least 1 iteration'):
        rescale_schedule(cfg, 0)
