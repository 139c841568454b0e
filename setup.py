"""Install tpc-cma-mm into an environment that has (or gets) mmcv; a fresh one:
``pip install -c requirements/constraints.txt -e '.[mmcv-lite]'`` (README "Set-up")."""
from setuptools import find_packages, setup

# The ranges the plugin supports, so that installing into an existing OpenMMLab
# environment keeps its torch; the exact versions CI tests live in
# requirements/constraints.txt (README "Support matrix" says which ends are tested).
# mmcv is left to the environment, as mmpretrain does: a full mmcv or mmcv-lite
# (the 'mmcv-lite' extra) both serve, and requiring one would overwrite the other.
INSTALL_REQUIRES = [
    'torch>=2.5',  # torch.serialization.get_safe_globals (weights-only allow-list)
    'torchvision>=0.20',  # the release paired with torch 2.5
    'numpy>=1.26.4,<2.4',  # numpy 2.4 removed np.in1d, used by mmpretrain
    'setuptools<81',  # mmengine needs pkg_resources for 'mmpretrain::' base configs
    'mmengine>=0.10.6,<1.0.0',  # older ones register torch 2.5's Adafactor twice
    'mmpretrain>=1.2.0,<1.3',
    'transformers>=4.40.2,<4.52',  # 4.52+ breaks `import mmpretrain.models`
    'pycocotools',
    'pycocoevalcap>=1.2',
    'clip-anytorch>=2.6.0',  # ships the CLIP BPE vocabulary file
    'ftfy',
    'regex',
    'Pillow>=10.0.0',  # draws the generated shapes; the oldest tested (README "Support matrix")
    'scikit-learn>=1.4.2',  # 1.4.1 and older fail to import beside numpy 2
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
    # Class names and prompt templates of the zero-shot benchmarks; .mim holds
    # (as links to the repo's folders) what `mim` and 'tpc_cma_mm::' configs look for.
    package_data={'tpc_cma_mm.datasets': ['zero_shot_data/*.json'],
                  'tpc_cma_mm': ['.mim/model-index.yml', '.mim/configs/**/*.py',
                                 '.mim/configs/**/*.yml', '.mim/configs/**/*.md',
                                 '.mim/tools/*.py', '.mim/tools/*.sh',
                                 '.mim/tools/analysis/*.py']},
    python_requires='>=3.10',
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # open_clip builds the source-format models for the converter round trips;
        # tensorboard lets the event-file test run instead of skipping.
        # mlflow-skinny and openmim: the vis-backend and mim tests run the real packages;
        # clip-benchmark (LAION's evaluator) is what the zero-shot and retrieval numbers
        # are compared to.
        'tests': ['pytest', 'packaging', 'open_clip_torch==3.3.0', 'tensorboard==2.21.0',
                  'mlflow-skinny>=3.0', 'openmim>=0.3.7,<0.3.9', 'clip-benchmark==1.6.2'],
        'bench': ['open_clip_torch==3.3.0', 'clip-benchmark==1.6.2'],
        # A fresh environment's mmcv without compiled ops (nothing here needs mmcv.ops).
        'mmcv-lite': ['mmcv-lite>=2.0.0,<2.4.0'],
        # `mim train / test / search tpc_cma_mm`; 0.3.9 pulls openxlab, which
        # downgrades setuptools, requests and packaging.
        'mim': ['openmim>=0.3.7,<0.3.9'],
        # mmengine's MLflowVisBackend (the skinny client holds the tracking API).
        'mlflow': ['mlflow-skinny>=3.0'],
        # mmengine's TensorboardVisBackend (tools/train.py --tensorboard).
        'tb': ['tensorboard==2.21.0'],
        # DeepSpeedStrategy (ZeRO). 0.15.4 trains on the CPU with mmengine 0.10.7;
        # 0.19.8 does not (mmengine imports deepspeed.runtime.fp16.onebit, since
        # moved). Once installed, mmengine imports it at every start (docs/scaling.md).
        'deepspeed': ['deepspeed==0.15.4'],
    },
)
