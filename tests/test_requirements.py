"""setup.py declares ranges; requirements/*.txt pin the versions CI tests inside them."""
import ast
import json
import os
import os.path as osp
import subprocess
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from overlay_venv import make_overlay_venv

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NEVER_EXACT = ('torch', 'torchvision', 'numpy', 'mmengine', 'transformers')


def _setup_literals() -> dict:
    """INSTALL_REQUIRES and extras_require of setup.py, read without running it."""
    tree = ast.parse(open(osp.join(REPO, 'setup.py')).read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == 'INSTALL_REQUIRES':
            found['install'] = ast.literal_eval(node.value)
        if isinstance(node, ast.keyword) and node.arg == 'extras_require':
            found['extras'] = ast.literal_eval(node.value)
    return found


def _requirements(group: str = 'all') -> dict:
    lits = _setup_literals()
    reqs = list(lits['install'])
    if group == 'all':
        reqs += [r for extra in lits['extras'].values() for r in extra]
    out = {}
    for line in reqs:
        req = Requirement(line)
        out.setdefault(canonicalize_name(req.name), []).append(req.specifier)
    return out


def _pins(name: str) -> dict:
    pins = {}
    for line in open(osp.join(REPO, 'requirements', name)):
        line = line.split('#')[0].strip()
        if line:
            req = Requirement(line)
            (spec, ) = req.specifier
            assert spec.operator == '==', f'{name}: {line!r} is not an exact pin'
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_the_stack_is_declared_as_ranges_not_pins():
    install = _requirements('install')
    for name in NEVER_EXACT:
        for spec in install[name]:
            assert all(s.operator not in ('==', '===') for s in spec), (name, str(spec))
    # mmcv (full, with compiled ops) and mmcv-lite install the same module: requiring
    # either would overwrite the other in a user's environment.
    assert not {'mmcv', 'mmcv-lite'} & install.keys()


def test_every_ci_pin_lies_in_the_declared_range():
    declared = _requirements('all')
    for name, version in _pins('constraints.txt').items():
        assert name in declared or name == 'setuptools', f'{name} pinned but not required'
        for spec in declared.get(name, []):
            assert spec.contains(version, prereleases=True), (name, version, str(spec))


def test_the_oldest_pins_are_the_lower_ends_of_the_ranges():
    install = _requirements('install')
    for name, version in _pins('oldest.txt').items():
        if name == 'tokenizers':  # not ours: the release the oldest transformers needs
            continue
        floors = [s.version for spec in install[name] for s in spec if s.operator == '>=']
        assert floors == [version], (name, floors, version)


@pytest.mark.skipif(not os.environ.get('TPC_CMA_OLDEST'),
                    reason='the oldest-versions CI step (.ci/run) sets TPC_CMA_OLDEST=1')
def test_the_oldest_versions_are_the_ones_imported():
    import mmengine
    import numpy
    import PIL
    import sklearn
    import transformers
    imported = {'mmengine': mmengine.__version__, 'numpy': numpy.__version__,
                'transformers': transformers.__version__, 'pillow': PIL.__version__,
                'scikit-learn': sklearn.__version__}
    assert imported == {k: v for k, v in _pins('oldest.txt').items() if k in imported}


def _fake_dist(site: str, name: str, version: str, requires=()) -> None:
    info = osp.join(site, f'{name}-{version}.dist-info')
    os.makedirs(info)
    lines = ['Metadata-Version: 2.1', f'Name: {name}', f'Version: {version}']
    lines += [f'Requires-Dist: {r}' for r in requires]
    with open(osp.join(info, 'METADATA'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    open(osp.join(info, 'RECORD'), 'w').close()


@pytest.mark.slow
def test_installing_beside_a_supported_older_torch_keeps_it(tmp_path):
    """pip's own resolver (dry run) on an environment that holds torch 2.5.1 and
    torchvision 0.20.1 (their metadata, on top of this environment's packages):
    only the plugin is to be installed."""
    python, site = make_overlay_venv(tmp_path)  # pip comes from this environment
    _fake_dist(site, 'torch', '2.5.1')
    _fake_dist(site, 'torchvision', '0.20.1', ['torch==2.5.1'])
    report = tmp_path / 'report.json'
    subprocess.run([python, '-m', 'pip', 'install', '--dry-run', '--quiet', '--report',
                    str(report), '-e', REPO], check=True, cwd=tmp_path)
    to_install = {canonicalize_name(item['metadata']['name'])
                  for item in json.loads(report.read_text())['install']}
    assert to_install == {'tpc-cma-mm'}, to_install
    assert metadata.version('torch')  # the outer environment itself is untouched


def test_the_generated_images_are_the_same_bytes_at_every_tested_pillow():
    """Pillow draws the benchmark's images, so its version could move every number. Every
    shape, colour, size and position at 32 pixels, as drawn by Pillow 13.0.0 (the CI pin);
    the oldest-versions step (.ci/run) runs this with Pillow 10.0.0 (requirements/oldest.txt)."""
    import hashlib
    import itertools

    import numpy as np

    from tpc_cma_mm.datasets.shape_captions import (COLOURS, POSITIONS, SHAPES, SIZES,
                                                    render_shape)
    digest = hashlib.sha256()
    for shape, colour, radius, centre in itertools.product(
            SHAPES, COLOURS.values(), SIZES.values(), POSITIONS.values()):
        image = render_shape(shape, colour, radius, centre, 32, np.random.default_rng(0))
        digest.update(image.tobytes())
    assert digest.hexdigest() == \
        'ddc0165f1e494a23219f9f52afb54e238b59a148f7826bab182733134db3f7e3'
