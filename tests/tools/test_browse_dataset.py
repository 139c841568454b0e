"""tools/visualization/browse_dataset.py (over apis.browse_dataset) against the data set's items."""
import numpy as np
from PIL import Image

from tiny import tiny_dataset_cfg, tiny_model_cfg
from tool_runner import load_tool
from tpc_cma_mm.apis.figures import browse as browse_module
from tpc_cma_mm.registry import DATASETS


def _config(tmp_path, to_rgb):
    model = tiny_model_cfg(data_preprocessor=dict(type='DualEncoderDataPreprocessor',
                                                  to_rgb=to_rgb))
    path = tmp_path / f'tiny_{to_rgb}.py'
    path.write_text(f"default_scope = 'tpc_cma_mm'\nmodel = {model!r}\n"
                    f"val_dataloader = dict(dataset={tiny_dataset_cfg('val', 8)!r})\n")
    return str(path)


def test_the_sheet_shows_the_items_as_the_model_sees_them(tmp_path, monkeypatch):
    shown = []
    sheet = browse_module.item_sheet
    monkeypatch.setattr(browse_module, 'item_sheet',
                        lambda images, titles, title: shown.append((images, titles))
                        or sheet(images, titles, title))
    dataset = DATASETS.build(tiny_dataset_cfg('val', 8))
    for to_rgb in (False, True):
        out = load_tool('tools/visualization/browse_dataset.py').main([_config(tmp_path, to_rgb), '-o', str(tmp_path / str(to_rgb)),
                                 '-p', 'val', '-n', '5'])
        images, titles = shown[-1]
        assert len(images) == len(titles) == 5
        for i, (image, text) in enumerate(zip(images, titles)):
            packed = dataset[i]['inputs'].permute(1, 2, 0).numpy()
            # The preprocessor's to_rgb swaps the pipeline's order: the sheet does the same.
            np.testing.assert_array_equal(image, packed[..., ::-1] if to_rgb else packed)
            assert dataset[i]['data_samples'].text in text
        with Image.open(out) as png:
            assert png.size[0] > 400
