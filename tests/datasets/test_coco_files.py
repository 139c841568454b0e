"""Malformed COCO files: every error names the file, the entry and what was expected.

The files are fabricated in COCO's own layout (``instances_val2014.json``,
``captions_val2014.json``, Karpathy's ``dataset_coco.json``), then damaged the way a
truncated download or a hand edit would. Before, pycocotools and the data sets raised
``JSONDecodeError``, ``KeyError: 3`` or ``AttributeError`` without naming the file, and
``check_data`` crashed on a null caption.
"""
import json

import pytest

from real_scale.fabricate import write_coco, write_karpathy
from tpc_cma_mm.apis.check_data import check_data
from tpc_cma_mm.datasets import CocoKarpathyCaptions, CocoSingleLabelCaptions


@pytest.fixture
def coco_root(tmp_path):
    write_coco(str(tmp_path), [[1], [3, 7], [3]])  # images 1000 (cat 1), 1001, 1002 (cat 3)
    return tmp_path


def _build(root):
    return CocoSingleLabelCaptions(data_root=str(root),
                                   instances_file='annotations/instances_val2014.json',
                                   captions_file='annotations/captions_val2014.json',
                                   img_prefix='val2014')


def _edit(root, kind, change):
    path = root / 'annotations' / f'{kind}_val2014.json'
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def _set(key, index, field, value):
    def change(data):
        data[key][index][field] = value
    return change


def test_the_fabricated_files_load(coco_root):
    dataset = _build(coco_root)
    assert dataset.metainfo['classes'] == ('category_1', 'category_3')
    assert [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))] == [0, 0, 1, 1]


def test_a_truncated_file_is_named(coco_root):
    path = coco_root / 'annotations' / 'instances_val2014.json'
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=rf'{path} is not a COCO instances file: not valid '
                                         r'JSON, truncated or damaged .*line 1 .*"categories"'):
        _build(coco_root)


@pytest.mark.parametrize('kind, change, message', [
    ('instances', lambda data: data.clear() or data.update(x=1),
     r'instances_val2014.json is not a COCO instances file: it has no "images" list'),
    ('instances', lambda data: data.update(annotations={'1': {}}),
     r'instances_val2014.json is not a COCO instances file: "annotations" is a dict, not '
     r'a list; expected COCO\'s \{"images"'),
    ('instances', lambda data: data['annotations'].__setitem__(2, [1001, 3]),
     r'instances_val2014.json: annotations\[2\] is a list \[1001, 3\], not an object'),
    # category 3 gone from "categories": before, KeyError: 3
    ('instances', lambda data: data['categories'].pop(1),
     r'instances_val2014.json: annotations\[1\] \(id 2\): category_id 3 is not in '
     r'"categories"'),
    ('instances', _set('annotations', 1, 'category_id', '3'),
     r'instances_val2014.json: annotations\[1\] \(id 2\): "category_id" must be an integer, '
     r"got str '3'"),
    ('instances', _set('images', 0, 'id', True),
     r'instances_val2014.json: images\[0\]: "id" must be an integer, got bool True'),
    ('instances', lambda data: data['images'][2].pop('file_name'),
     r"instances_val2014.json: images\[2\] \(id 1002\) lacks 'file_name'; expected COCO's"),
    ('instances', _set('categories', 0, 'name', None),
     r'instances_val2014.json: categories\[0\] \(id 1\): "name" must be a str, got NoneType'),
    # a null caption: before, AttributeError: 'NoneType' object has no attribute 'strip'
    ('captions', _set('annotations', 3, 'caption', None),
     r'captions_val2014.json: annotations\[3\] \(id 4\): "caption" must be a str, got '
     r'NoneType None'),
    ('captions', _set('annotations', 0, 'caption', '  '),
     r'captions_val2014.json: annotations\[0\] \(id 1\): the caption is empty'),
    ('captions', _set('annotations', 5, 'image_id', 77),
     r'captions_val2014.json: annotations\[5\] \(id 6\): image_id 77 is not in "images"'),
    ('instances', _set('images', 0, 'file_name', '../../etc/passwd'),
     r"instances_val2014.json: image 1000: '../../etc/passwd' leads outside the data root"),
], ids=['no-images', 'annotations-dict', 'entry-not-object', 'unknown-category',
        'category-as-string', 'bool-id', 'no-file-name', 'null-category-name', 'null-caption',
        'empty-caption', 'caption-of-unknown-image', 'file-name-outside-root'])
def test_malformed_coco_files_name_file_entry_and_expectation(coco_root, kind, change, message):
    _edit(coco_root, kind, change)
    with pytest.raises(ValueError, match=message):
        _build(coco_root)


def test_check_data_reports_a_null_caption_instead_of_crashing(tmp_path):
    write_karpathy(str(tmp_path / 'coco'), splits=('train', 'val', 'test'))
    write_coco(str(tmp_path / 'coco'), [[1], [3]])
    _edit(tmp_path / 'coco', 'captions', _set('annotations', 1, 'caption', None))
    report = check_data(str(tmp_path), only=('coco', ), decode=None, expected={})
    (problem, ) = report['coco']['problems']
    assert problem.startswith('ValueError: ') and 'captions_val2014.json: annotations[1] (id 2)' \
        ': "caption" must be a str, got NoneType None' in problem, problem


@pytest.mark.parametrize('field, value', [
    ('filename', '/etc/passwd'), ('filename', '../../secret.jpg'), ('filepath', '..'),
    ('filepath', 'val2014/../../..'), ('filepath', '/abs/dir'), ('filename', 'C:\\x.jpg'),
])
def test_karpathy_paths_outside_data_root_are_refused_naming_the_entry(tmp_path, field, value):
    write_karpathy(str(tmp_path), splits=('train', 'train'))
    path = tmp_path / 'annotations' / 'dataset_coco.json'
    data = json.loads(path.read_text())
    data['images'][1][field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r'dataset_coco.json: images\[1\] \(cocoid 500001\): '
                                         r'.* leads outside the data root'):
        CocoKarpathyCaptions(data_root=str(tmp_path), ann_file='annotations/dataset_coco.json')
