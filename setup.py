"""Install tpc-cma-mm: ``pip install -e .`` pulls every pin the plugin needs."""
from setuptools import find_packages, setup

# Pins that install and import together (see README "Set-up" for why each is pinned).
INSTALL_REQUIRES = [
    'torch==2.14.1',
    'torchvision==0.29.1',
    'numpy==2.3.5',
    'setuptools<81',
    'mmengine==0.10.7',
    'mmcv-lite==2.2.0',
    'mmpretrain==1.2.0',
    'transformers==4.51.3',
    'pycocotools==2.0.11',
    'pycocoevalcap==1.2',
    'clip-anytorch==2.6.0',
    'ftfy',
    'regex',
    'scikit-learn',
    'scipy',
    'matplotlib',
]

setup(
    name='tpc_cma_mm',
    version='0.1.0',
    description='Controllable modality-gap closing for CLIP-style models '
    '(TPC-CMA) as an OpenMMLab / mmpretrain plugin',
    # The library, and the lab that reproduces the paper and runs the studies on it.
    packages=find_packages(include=['tpc_cma_mm', 'tpc_cma_mm.*', 'tpc_cma_lab',
                                    'tpc_cma_lab.*']),
    # Class names and prompt templates of the zero-shot benchmarks.
    package_data={'tpc_cma_mm.datasets': ['zero_shot_data/*.json']},
    python_requires='>=3.10',
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # open_clip builds the source-format models for the converter round trips;
        # tensorboard lets the event-file test run instead of skipping.
        'tests': ['pytest', 'open_clip_torch==3.3.0', 'tensorboard==2.21.0'],
        'bench': ['open_clip_torch==3.3.0'],
        # mmengine's TensorboardVisBackend (tools/train.py --tensorboard).
        'tb': ['tensorboard==2.21.0'],
        # DeepSpeedStrategy (ZeRO). 0.15.4 trains on the CPU with mmengine 0.10.7;
        # 0.19.8 does not (mmengine imports deepspeed.runtime.fp16.onebit, since
        # moved). Once installed, mmengine imports it at every start (docs/scaling.md).
        'deepspeed': ['deepspeed==0.15.4'],
    },
)
