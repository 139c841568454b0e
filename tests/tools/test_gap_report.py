"""tools/analysis/gap_report.py (over tpc_cma_mm.apis.gap_report) on a tiny random model."""
import importlib.util
import json
import math
import os.path as osp

import pytest
import torch
from PIL import Image

from tiny import tiny_dataset_cfg, tiny_model_cfg
from tpc_cma_mm.apis import OutputExistsError
from tpc_cma_mm.apis.figures import projection_figure
from tpc_cma_mm.evaluation.functional import GAP_KEYS, gap_metrics
from tpc_cma_mm.registry import DATASETS, MODELS
from tpc_cma_mm.utils import CheckpointMismatchError

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis', 'gap_report.py')
ZERO_SHOT = dict(classnames=['circle', 'square', 'triangle', 'diamond', 'cross', 'star',
                             'hexagon', 'ring'], templates=['a photo of a {}'])


def _load_tool():
    spec = importlib.util.spec_from_file_location('gap_report', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_config_and_checkpoint(tmp_path):
    model_cfg = tiny_model_cfg(zero_shot=ZERO_SHOT)
    dataset_cfg = tiny_dataset_cfg('test', num_samples=24)
    config = tmp_path / 'tiny_gap.py'
    config.write_text(
        "default_scope = 'tpc_cma_mm'\n"
        f'model = {model_cfg!r}\n'
        f"test_dataloader = dict(batch_size=10, num_workers=0, dataset={dataset_cfg!r},\n"
        "                       sampler=dict(type='DefaultSampler', shuffle=False))\n")
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).eval()
    checkpoint = tmp_path / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(note='random')), checkpoint)
    return config, checkpoint, model, dataset_cfg


def _embed_by_hand(model, dataset_cfg):
    dataset = DATASETS.build(dataset_cfg)
    images, tokens = [], []
    for i in range(len(dataset)):
        item = dataset[i]
        images.append(item['inputs'])
        tokens.append(item['data_samples'].text_tokens)
    batch = model.data_preprocessor(dict(inputs=images, data_samples=None), False)
    with torch.no_grad():
        return model(batch['inputs'], text_tokens=torch.stack(tokens), mode='tensor')


def test_gap_report_writes_json_and_plots(tmp_path):
    config, checkpoint, model, dataset_cfg = _write_config_and_checkpoint(tmp_path)
    out = tmp_path / 'report'
    _load_tool().main([str(config), str(checkpoint), '--out', str(out),
                       '--clustering-seeds', '0'])

    report = json.loads((out / 'gap_report.json').read_text())
    assert report['num_pairs'] == 24
    assert set(report['variants']) == {'original', 'mean_centering', 'gap_shift_0.5'}
    original = report['variants']['original']
    for key in GAP_KEYS:
        assert math.isfinite(original[f'gap/{key}']), key
    for key in ('clustering/ari_class', 'clustering/ari_modality', 'clustering/nmi_class',
                'retrieval/i2t_R1', 'zero_shot/top1'):
        assert key in original
    assert set(report['gap_reduction_pct']) == {'mean_centering', 'gap_shift_0.5'}

    # The report embedded the split with the checkpoint's weights: same gaps by hand.
    embeds = _embed_by_hand(model, dataset_cfg)
    expected = gap_metrics(embeds['img_embeds'], embeds['text_embeds'])
    assert abs(original['gap/centroid'] - expected['centroid']) < 1e-5
    assert abs(original['gap/distribution'] - expected['distribution']) < 1e-5

    for name in ('gap_decomposition.png', 'projection.png'):
        with Image.open(out / name) as image:
            assert image.size[0] > 100 and image.size[1] > 100


@pytest.mark.slow  # the gap report with its figures, twice
def test_gap_report_refuses_to_overwrite_other_content(tmp_path):
    """--out used to replace a user's files without a word."""
    config, checkpoint, _, _ = _write_config_and_checkpoint(tmp_path)
    out = tmp_path / 'report'
    out.mkdir()
    (out / 'gap_report.json').write_text('{"mine": 1}')
    tool = _load_tool()
    args = [str(config), str(checkpoint), '--out', str(out), '--clustering-seeds', '0']
    with pytest.raises(OutputExistsError, match='gap_report.json.*--overwrite'):
        tool.main(args)
    assert (out / 'gap_report.json').read_text() == '{"mine": 1}'
    assert not (out / 'projection.png').exists()  # nothing written at all
    tool.main(args + ['--overwrite'])
    assert 'variants' in json.loads((out / 'gap_report.json').read_text())
    tool.main(args)  # a repeated run writes the same bytes: no conflict


def test_gap_report_refuses_an_unconverted_checkpoint(tmp_path):
    config, checkpoint, model, _ = _write_config_and_checkpoint(tmp_path)
    state = {k.replace('visual.', 'vision.'): v for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / 'foreign.pth')
    with pytest.raises(CheckpointMismatchError, match='missing from the checkpoint'):
        _load_tool().main([str(config), str(tmp_path / 'foreign.pth'), '--out',
                           str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


def test_projection_legend_names_every_class():
    torch.manual_seed(0)
    img, text = torch.randn(40, 8), torch.randn(40, 8)
    labels = torch.arange(40) % 4
    classes = ['circle', 'square', 'triangle', 'diamond']
    captured = {}
    import matplotlib.figure
    savefig = matplotlib.figure.Figure.savefig

    def keep(fig, *args, **kwargs):
        captured['fig'] = fig
        return savefig(fig, *args, **kwargs)

    matplotlib.figure.Figure.savefig = keep
    try:
        png = projection_figure(dict(img=img, text=text, labels=labels), {'original': None},
                                classes, max_points=40)
    finally:
        matplotlib.figure.Figure.savefig = savefig
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    by_modality, by_class = captured['fig'].axes
    assert [t.get_text() for t in by_modality.get_legend().get_texts()] == ['image', 'text']
    assert [t.get_text() for t in by_class.get_legend().get_texts()] == classes
    assert 'principal component' in by_class.get_xlabel()


def test_gap_report_writes_tensorboard_projector_data(tmp_path):
    """Both clouds in one tensor, with modality / class / caption metadata and a sprite."""
    config, checkpoint, model, dataset_cfg = _write_config_and_checkpoint(tmp_path)
    out = tmp_path / 'report'
    _load_tool().main([str(config), str(checkpoint), '--out', str(out),
                       '--clustering-seeds', '0', '--projector-pairs', '20'])
    projector = out / 'projector'
    pbtxt = (projector / 'projector_config.pbtxt').read_text()
    folder = projector / '00000' / 'gap'
    for name in ('tensors.tsv', 'metadata.tsv', 'sprite.png'):
        assert f'00000/gap/{name}' in pbtxt
    # The first 20 pairs: every distinct image once, then every caption, embedded by hand.
    dataset = DATASETS.build(dataset_cfg)
    items = [dataset[i] for i in range(20)]
    img_ids = [int(item['data_samples'].img_id) for item in items]
    first = sorted({i: img_ids.index(i) for i in img_ids}.values())
    embeds = _embed_by_hand(model, dataset_cfg)
    want = torch.cat([embeds['img_embeds'][first], embeds['text_embeds'][:20]])
    rows = [line.split('\t') for line in (folder / 'tensors.tsv').read_text().splitlines()]
    torch.testing.assert_close(torch.tensor([[float(v) for v in r] for r in rows]), want,
                               rtol=0, atol=1e-5)
    metadata = [line.split('\t') for line in (folder / 'metadata.tsv').read_text().splitlines()]
    assert metadata[0] == ['modality', 'class', 'img_id', 'caption']
    classes = ZERO_SHOT['classnames']
    want_meta = ([['image', classes[int(items[r]['data_samples'].gt_label)], str(img_ids[r]),
                   items[r]['data_samples'].text] for r in first]
                 + [['text', classes[int(item['data_samples'].gt_label)], str(i),
                     item['data_samples'].text] for item, i in zip(items, img_ids)])
    assert metadata[1:] == want_meta
    side = math.ceil(math.sqrt(len(want))) * 32  # square grid of 32-px tiles
    with Image.open(folder / 'sprite.png') as sprite:
        assert sprite.size == (side, side)
        assert sprite.getpixel((side - 1, side - 1)) == (0, 0, 0)  # padding after the last tile
    assert 'single_image_dim: 32' in pbtxt


@pytest.mark.parametrize('rgb_images', [True, False])
def test_projector_sprite_shows_images_in_rgb_and_text_rows_grey(rgb_images):
    """The kept images are in the pipeline's order; the sprite must be RGB either way."""
    import io

    import numpy as np

    from tpc_cma_mm.apis.projector import TEXT_TILE, projector_files
    colours = torch.tensor([[255, 0, 0], [0, 0, 255]], dtype=torch.uint8)  # red, blue (RGB)
    stored = colours if rgb_images else colours.flip(1)
    images = stored[:, :, None, None].expand(2, 3, 8, 8).clone()
    embeds = dict(img=torch.eye(2, 4), text=torch.eye(2, 4).flip(0), labels=torch.tensor([0, 1]),
                  img_ids=torch.tensor([5, 6]), texts=['a red square', 'a\tblue\nsquare'],
                  images=images)
    files = projector_files(embeds, rgb_images=rgb_images, classes=['red', 'blue'],
                            sprite_size=4)
    sprite = np.asarray(Image.open(io.BytesIO(files['projector/00000/gap/sprite.png'])))
    assert sprite.shape == (8, 8, 3)  # 2 x 2 tiles of 4 px: image, image, text, text
    assert (sprite[:4, :4] == [255, 0, 0]).all() and (sprite[:4, 4:] == [0, 0, 255]).all()
    assert (sprite[4:] == int(TEXT_TILE * 255)).all()  # TensorBoard truncates to uint8
    metadata = files['projector/00000/gap/metadata.tsv'].decode().splitlines()
    assert metadata[1:] == ['image\tred\t5\ta red square', 'image\tblue\t6\ta blue square',
                            'text\tred\t5\ta red square', 'text\tblue\t6\ta blue square']
