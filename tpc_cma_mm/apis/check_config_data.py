"""Check the data sets a config names, whatever they hold (a user's own COCO-format set).

Each data set of the config's dataloaders (and of a ``MultiValLoop``'s extra
sets) is built as training would build it, so the schema checks are the ones
training applies; its entries and distinct images are counted and images are
opened. Counts are compared with the published Karpathy ones only on request::

    from tpc_cma_mm.apis.check_config_data import check_config_data
    report = check_config_data(load_config('configs/cma_clip_b16.py'), decode=100)
    report['val_dataloader']['problems']
"""
from typing import Dict, Iterator, Optional, Tuple

from mmengine.config import Config

from tpc_cma_mm.registry import DATASETS
from .check_data import EXPECTED, _decode

__all__ = ['check_config_data', 'config_datasets']


def config_datasets(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """``(where, dataset config)`` for every dataloader of ``cfg``."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if (cfg.get(name) or {}).get('dataset'):
            yield name, cfg[name]['dataset']
    for set_name, extra in ((cfg.get('val_cfg') or {}).get('extra_sets') or {}).items():
        yield f'val_cfg.extra_sets.{set_name}', extra['dataloader']['dataset']


def _check_one(dataset_cfg: dict, decode: Optional[int], expect_karpathy: bool) -> dict:
    results, problems = {}, []
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[]))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    results['type'] = dataset_cfg['type']
    results['entries'] = len(infos)
    if infos and 'img_id' in infos[0]:
        results['images'] = len({info['img_id'] for info in infos})
    if not infos:
        problems.append('no entries: check the annotation file and split')
    paths = [info['img_path'] for info in infos if 'img_path' in info]
    results['decoded'] = _decode(paths, decode, problems)
    if expect_karpathy and dataset_cfg['type'] == 'CocoKarpathyCaptions':
        want = EXPECTED.get(f"coco/karpathy_{dataset_cfg.get('split')}_images")
        if want is not None and results.get('images') != want:
            problems.append(f"{dataset_cfg.get('split')} split: found {results.get('images')} "
                            f'images, expected {want} (the published Karpathy count)')
    return dict(results=results, problems=problems)


def check_config_data(cfg: Config, decode: Optional[int] = 500,
                      expect_karpathy: bool = False) -> Dict[str, dict]:
    """``{where: dict(results, problems)}`` for each data set ``cfg`` names.

    A data set that cannot be built reports the loader's error (which names the
    file and the fix) as its problem; ``decode`` images per set are opened
    (``None``: all). ``expect_karpathy`` compares the image counts of
    ``CocoKarpathyCaptions`` splits with the published ones.
    """
    report = {}
    for where, dataset_cfg in config_datasets(cfg):
        try:
            report[where] = _check_one(dataset_cfg, decode, expect_karpathy)
        except (AssertionError, OSError, ValueError, KeyError, RuntimeError) as error:
            report[where] = dict(results={}, problems=[f'{type(error).__name__}: {error}'])
    if not report:
        raise ValueError('The config names no dataloader with a dataset to check.')
    return report
