"""One channel order from file to model: BGR in every data set (as image files load), RGB
into the model (``to_rgb=True`` in every config).

Before, ``ShapeCaptions`` yielded RGB and the shapes configs set ``to_rgb=False``, so an
image file of the same picture (read as BGR) reached the shapes models with red and blue
swapped, through the inferencer and through ``tools/test.py`` alike, silently.
"""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from tiny import TINY_PIPELINE, tiny_dataset_cfg, tiny_model_cfg
from tool_runner import run_tool
from tpc_cma_mm.apis.embed import embed_split
from tpc_cma_mm.apis.inference import DualEncoderInferencer
from tpc_cma_mm.datasets import COLOURS
from tpc_cma_mm.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM = 8


def _show_true_colours(items, folder) -> None:
    """Pillow reads each file as RGB; every non-ring shape's named colour (``COLOURS``,
    RGB) fills pixels of its file, and the colour with red and blue swapped none."""
    checked = 0
    for item in items:
        rgb = np.asarray(Image.open(folder / f'{item["img_id"]}.png').convert('RGB'))
        colour = COLOURS[item['attr_colour']]
        if item['attr_shape'] != 'ring' and colour[0] != colour[2]:
            assert (rgb == colour).all(-1).any(), item['attr_colour']
            assert not (rgb == colour[::-1]).all(-1).any(), item['attr_colour']
            checked += 1
    assert checked >= 3


def _files_of_the_dataset(tmp_path):
    """The ShapeCaptions test split, each image written to a lossless PNG file, and a
    Karpathy annotation file naming them with the same captions and ids. The files are
    checked to show the true colours, so "the same picture" does not rest on the
    channel order under test."""
    dataset = DATASETS.build(tiny_dataset_cfg('test', NUM))
    items = [dataset.get_data_info(i) for i in range(NUM)]
    (tmp_path / 'img').mkdir()
    entries = []
    for item in items:
        name = f'{item["img_id"]}.png'
        # an ordinary RGB image file of the picture, as a user's own file would be
        Image.fromarray(item['img'][..., ::-1]).save(tmp_path / 'img' / name)
        entries.append(dict(filepath='img', filename=name, split='test', cocoid=item['img_id'],
                            sentences=[dict(raw=item['text'])]))
    _show_true_colours(items, tmp_path / 'img')
    (tmp_path / 'ann.json').write_text(json.dumps(dict(images=entries)))
    files = dict(type='CocoKarpathyCaptions', data_root=str(tmp_path), ann_file='ann.json',
                 split='test', pipeline=[dict(type='SafeLoadImageFromFile')] + TINY_PIPELINE)
    return items, files


def test_data_set_items_are_bgr_like_files(tmp_path):
    """cv2, which reads BGR as LoadImageFromFile does, reads the true-colour files back as
    exactly the data set's items."""
    items, _ = _files_of_the_dataset(tmp_path)
    for item in items:
        np.testing.assert_array_equal(
            cv2.imread(str(tmp_path / 'img' / f'{item["img_id"]}.png')), item['img'])


def test_dataset_files_and_inferencer_give_identical_embeddings(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    items, files = _files_of_the_dataset(tmp_path)
    from_dataset = embed_split(model, tiny_dataset_cfg('test', NUM), progress=False)
    from_files = embed_split(model, files, progress=False)  # what a test loop on files runs
    torch.testing.assert_close(from_files['img'], from_dataset['img'], rtol=0, atol=0)
    torch.testing.assert_close(from_files['text'], from_dataset['text'], rtol=0, atol=0)
    # the files' test pipeline: a built model carries no config to take it from
    inferencer = DualEncoderInferencer(model, pipeline=files['pipeline'])
    paths = [str(tmp_path / 'img' / f'{item["img_id"]}.png') for item in items]
    torch.testing.assert_close(inferencer.embed_images(paths), from_dataset['img'],
                               rtol=0, atol=1e-6)
    arrays = [item['img'] for item in items]
    torch.testing.assert_close(inferencer.embed_images(arrays), from_dataset['img'],
                               rtol=0, atol=1e-6)
    # the swap is visible at this size: a wrong order would not pass by chance
    swapped = inferencer.embed_images([a[..., ::-1].copy() for a in arrays])
    assert (swapped - from_dataset['img']).abs().max() > 1e-3


def test_every_config_turns_bgr_into_rgb():
    configs = sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))
    checked = 0
    for path in configs:
        if '_base_' in path:
            continue
        model = Config.fromfile(path).get('model', {})
        preprocessor = model.get('data_preprocessor')
        if preprocessor and preprocessor.get('type') == 'DualEncoderDataPreprocessor':
            assert preprocessor.get('to_rgb', True), path
            checked += 1
    assert checked >= 10


def _test_config(path, dataset) -> str:
    path.write_text(f'''
_base_ = [{osp.join(REPO, 'configs/_base_/default_runtime.py')!r}]
model = {tiny_model_cfg()!r}
test_dataloader = dict(batch_size={NUM}, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False), dataset={dataset!r})
test_evaluator = [dict(type='ModalityGapMetric'), dict(type='CrossModalRetrieval')]
test_cfg = dict(type='TestLoop')
''')
    return str(path)


def test_tools_test_on_files_scores_as_on_the_dataset(tmp_path):
    """tools/test.py, as a user runs it (its main(argv), tests/tool_runner.py), on the data
    set and on its image files."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'w.pth')
    _, files = _files_of_the_dataset(tmp_path)
    scores = []
    for name, dataset in (('shapes', tiny_dataset_cfg('test', NUM)), ('files', files)):
        config = _test_config(tmp_path / f'{name}.py', dataset)
        out = tmp_path / f'{name}.json'
        done = run_tool('tools/test.py', config, tmp_path / 'w.pth', '--work-dir',
                        tmp_path / name, '--out', out, '--out-item', 'metrics')
        assert done.returncode == 0, done.stderr[-3000:]
        scores.append(json.loads(out.read_text()))
    assert scores[0].keys() == scores[1].keys() and 'gap/centroid' in scores[0]
    for key in scores[0]:
        assert scores[1][key] == pytest.approx(scores[0][key], rel=1e-6, abs=1e-9), key
