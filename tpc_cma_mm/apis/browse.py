"""Look at a config's data as the model gets it: the packed images with captions and classes.

The same items the Runner would load (the split's data set and pipeline, built
in the plugin's scope), shown in RGB: the images are taken in the order the
pipeline gives them and swapped when the model's data preprocessor swaps them
(``to_rgb``), so a wrong channel convention shows as wrong colours::

    from tpc_cma_mm.apis import browse_dataset, load_config
    png = browse_dataset(load_config(CONFIG), split='train', num=12)
"""
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tpc_cma_mm.registry import DATASETS

__all__ = ['browse_dataset']


def browse_dataset(cfg: Config, split: str = 'train', num: int = 12) -> bytes:
    """PNG sheet of the first ``num`` items of ``cfg``'s ``{split}_dataloader`` data set."""
    if split not in ('train', 'val', 'test'):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if num < 1:
        raise ValueError(f'num must be >= 1, got {num}')
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise ValueError(f'The config has no {split}_dataloader.dataset.')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tpc_cma_mm')):
        dataset = DATASETS.build(loader['dataset'])
    swap = bool((cfg.get('model') or {}).get('data_preprocessor', {}).get('to_rgb', True))
    classes = dataset.metainfo.get('classes')
    images, titles = [], []
    for index in range(min(num, len(dataset))):
        item = dataset[index]
        image = item['inputs'].permute(1, 2, 0).numpy()
        images.append(image[..., ::-1] if swap else image)
        sample = item['data_samples']
        label = sample.get('gt_label')
        name = '' if label is None else (
            classes[int(label[0])] if classes else str(int(label[0])))
        titles.append(f'{index}{" [" + name + "]" if name else ""}: {sample.get("text", "")}')
    from .figures.browse import item_sheet  # matplotlib only when drawing
    return item_sheet(images, titles, f'{split}: {len(dataset)} items, the first {len(images)}')
