"""tools/check_data.py CONFIG on a user's own (small) COCO-format set."""
import os
import os.path as osp

from real_scale.fabricate import write_karpathy

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets', 'coco_karpathy.py')


def _options(root) -> list:
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


def test_a_users_set_is_counted_not_held_to_the_karpathy_counts(tmp_path, capsys):
    from tools.check_data import main
    write_karpathy(str(tmp_path), splits=('train', 'restval', 'train', 'val', 'val', 'test'))
    assert main([CONFIG, '--decode', '0', '--cfg-options', *_options(tmp_path)]) == 0
    out = capsys.readouterr().out
    # train = train + restval images (the loader's rule); two captions per image
    assert '== train_dataloader: OK' in out and '   images: 3' in out and '   entries: 6' in out
    assert '== val_dataloader: OK' in out and '   images: 2' in out
    assert main([CONFIG, '--expect-karpathy', '--cfg-options', *_options(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert 'train split: found 3 images, expected 113287' in out


def test_missing_images_and_files_are_named(tmp_path, capsys):
    from tpc_cma_mm.apis.check_config_data import check_config_data
    from tpc_cma_mm.apis.model import load_config
    write_karpathy(str(tmp_path), splits=('train', 'val', 'test'))
    (image, ) = sorted((tmp_path / 'val2014').glob('*.jpg'))[1:2]
    os.remove(image)
    cfg = load_config(CONFIG, {k: v for k, v in (o.split('=') for o in _options(tmp_path))})
    report = check_config_data(cfg, decode=None)
    assert [p for outcome in report.values() for p in outcome['problems']] == [
        f'missing image {image}']
    cfg = load_config(CONFIG, {k: str(tmp_path / 'nowhere') for k in
                               (o.split('=')[0] for o in _options(tmp_path))})
    report = check_config_data(cfg)
    for outcome in report.values():
        assert outcome['problems'][0].startswith('FileNotFoundError') and 'nowhere' in \
            outcome['problems'][0]
