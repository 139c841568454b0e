"""An evaluation never swaps a bad sample for another one: a real Runner test loop on JPEG files."""
import io
import json
import uuid

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from PIL import Image

from tiny import TINY_CONTEXT, TINY_IMAGE, tiny_model_cfg
from tpc_cma_mm.registry import DATASETS

CAPTIONS = ['a red circle', 'a blue square', 'a green star', 'a small yellow heart']


def _write_split(root, corrupt=None):
    (root / 'img').mkdir(exist_ok=True)
    images = []
    for index, caption in enumerate(CAPTIONS):
        pixels = np.random.default_rng(index).integers(0, 255, (TINY_IMAGE, TINY_IMAGE, 3),
                                                       dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, 'JPEG')
        data = buffer.getvalue()
        if index == corrupt:
            data = data[:len(data) // 2]  # truncated mid-scan: the decoders refuse it
        (root / 'img' / f'{index}.jpg').write_bytes(data)
        images.append(dict(filepath='img', filename=f'{index}.jpg', split='test',
                           cocoid=index, sentences=[dict(raw=caption)]))
    (root / 'ann.json').write_text(json.dumps(dict(images=images)))


def _dataset_cfg(root, **overrides):
    cfg = dict(type='CocoKarpathyCaptions', data_root=str(root), ann_file=str(root / 'ann.json'),
               split='test', pipeline=[
                   dict(type='SafeLoadImageFromFile', on_error='skip'),
                   dict(type='TokenizeCaption', context_length=TINY_CONTEXT),
                   dict(type='PackInputs', algorithm_keys=['text', 'text_tokens', 'img_id'])])
    cfg.update(overrides)
    return cfg


def _test_loop(root, work_dir):
    torch.manual_seed(0)
    runner = Runner(
        model=tiny_model_cfg(), work_dir=str(work_dir),
        experiment_name=f'eval_{uuid.uuid4().hex[:8]}',
        test_dataloader=dict(batch_size=2, num_workers=0,
                             sampler=dict(type='DefaultSampler', shuffle=False),
                             dataset=_dataset_cfg(root)),
        test_evaluator=[dict(type='CrossModalRetrieval', topk=(1, ))],
        test_cfg=dict(type='TestLoop'), default_scope='tpc_cma_mm', log_level='WARNING')
    return runner.test()


def test_good_split_is_scored(tmp_path):
    _write_split(tmp_path)
    metrics = _test_loop(tmp_path, tmp_path / 'work')
    assert set(metrics) == {'retrieval/i2t_R1', 'retrieval/t2i_R1'}


def test_corrupt_jpeg_with_skip_stops_the_evaluation_naming_it(tmp_path):
    _write_split(tmp_path, corrupt=2)
    # before: mmengine's retry replaced 2.jpg by a random other sample and scored 4 pairs
    with pytest.raises(RuntimeError, match=r"split='test'\) item 2 \(.*2\.jpg, cocoid 2\).*"
                                           'never substitutes'):
        _test_loop(tmp_path, tmp_path / 'work')


def test_evaluation_splits_load_in_test_mode(tmp_path):
    _write_split(tmp_path)
    assert DATASETS.build(_dataset_cfg(tmp_path)).test_mode
    with pytest.raises(ValueError, match="split='test' is an evaluation split.*test_mode"):
        DATASETS.build(_dataset_cfg(tmp_path, test_mode=False))
