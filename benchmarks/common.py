"""Shared pieces of the benchmarks: matching models, batches, interleaved timing,
the machine's load and its measured matmul rate.

Run every benchmark from the repository root as a module
(``python -m benchmarks.bench_xxx``), so this module imports as ``benchmarks.common``.
Both models are built from one architecture description with random weights
(nothing is downloaded). ``copy_open_clip_weights`` loads open_clip's weights
into ours so every benchmark can first check that the two compute the same
embeddings: the comparison is between implementations of one network.
"""
import argparse
import json
import os
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch
from mmengine.registry import init_default_scope

import tpc_cma_mm  # noqa: F401  (registers the plugin)
from tpc_cma_mm.models import CLIPTokenizer
from tpc_cma_mm.registry import MODELS

__all__ = ['ARCHS', 'build_ours', 'build_open_clip', 'comparison_parser',
           'copy_open_clip_weights', 'interleaved', 'load_average', 'machine', 'make_batch',
           'matmul_rate', 'saved_tensor_bytes', 'set_threads', 'write_rows']

# vision: width, layers, heads, patch, image size; text: width, layers, heads, context
ARCHS = {
    'tiny': dict(embed=64, v=(64, 4, 4, 8, 32), t=(64, 4, 4, 32)),
    'vit-b16': dict(embed=512, v=(768, 12, 12, 16, 224), t=(512, 12, 8, 77)),
    'vit-l14': dict(embed=768, v=(1024, 24, 16, 14, 224), t=(768, 12, 12, 77)),
}

CAPTION_WORDS = ('a small large red green blue yellow circle square triangle star '
                 'at the top bottom left right of the picture on a white background').split()


def comparison_parser(description: str, batch: int) -> argparse.ArgumentParser:
    """Arguments every ours-vs-open_clip benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--arch', default='tiny', choices=sorted(ARCHS))
    p.add_argument('--batch', type=int, default=batch)
    p.add_argument('--rounds', type=int, default=20)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--amp', action='store_true', help='bf16 autocast in both')
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads (default on a CPU: 1, steadier on a shared machine)')
    p.add_argument('--peak-size', type=int, default=0,
                   help='side of the square products that measure the matmul rate (0: auto)')
    p.add_argument('--json', default=None, help='also write the result rows to this file')
    return p


def set_threads(threads) -> torch.device:
    """One torch thread on a CPU unless told otherwise; the device to run on."""
    if threads or not torch.cuda.is_available():
        torch.set_num_threads(threads or 1)
    return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


def build_ours(arch: str, **overrides) -> torch.nn.Module:
    a = ARCHS[arch]
    vw, vl, vh, patch, size = a['v']
    tw, tl, th, ctx = a['t']
    cfg = dict(
        type='DualEncoder',
        vision_backbone=dict(
            type='VisionTransformer',
            arch=dict(embed_dims=vw, num_layers=vl, num_heads=vh,
                      feedforward_channels=4 * vw),
            img_size=size, patch_size=patch, pre_norm=True, final_norm=True,
            norm_cfg=dict(type='LN', eps=1e-5),  # what OpenAI / open_clip use
            layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
            out_type='cls_token'),
        projection=dict(type='CLIPProjection', in_channels=vw, out_channels=a['embed']),
        text_backbone=dict(type='TextTransformer', width=tw, layers=tl, heads=th),
        proj_dim=a['embed'], context_length=ctx,
        data_preprocessor=dict(type='DualEncoderDataPreprocessor', to_rgb=True))
    cfg.update(overrides)
    # mmcv builds activations through the default scope (QuickGELU is mmpretrain's).
    init_default_scope('tpc_cma_mm')
    return MODELS.build(cfg)


def build_open_clip(arch: str) -> torch.nn.Module:
    import open_clip
    a = ARCHS[arch]
    vw, vl, vh, patch, size = a['v']
    tw, tl, th, ctx = a['t']
    return open_clip.model.CLIP(
        embed_dim=a['embed'],
        vision_cfg=dict(width=vw, layers=vl, head_width=vw // vh, patch_size=patch,
                        image_size=size),
        text_cfg=dict(width=tw, layers=tl, heads=th, context_length=ctx),
        quick_gelu=True)


def copy_open_clip_weights(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    """Load open_clip's weights into our DualEncoder (mmpretrain ViT layout)."""
    src = theirs.state_dict()
    out = {}
    for key, value in src.items():
        if key == 'attn_mask':
            continue
        if not key.startswith('visual.'):
            out[key] = value  # the text tower uses the same names
            continue
        k = key[len('visual.'):]
        if k.startswith('transformer.resblocks.'):
            i, rest = k[len('transformer.resblocks.'):].split('.', 1)
            rest = (rest.replace('ln_1', 'ln1').replace('ln_2', 'ln2')
                    .replace('attn.in_proj_', 'attn.qkv.').replace('attn.out_proj', 'attn.proj')
                    .replace('mlp.c_fc', 'ffn.layers.0.0').replace('mlp.c_proj', 'ffn.layers.1'))
            out[f'visual.layers.{i}.{rest}'] = value
            continue
        name = {'conv1.weight': 'patch_embed.projection.weight', 'class_embedding': 'cls_token',
                'positional_embedding': 'pos_embed'}.get(k)
        if name:
            out[f'visual.{name}'] = value.reshape(ours.visual.state_dict()[name].shape)
        elif k == 'proj':
            out['visual_proj.proj'] = value
        else:
            out['visual.' + k.replace('ln_pre', 'pre_norm').replace('ln_post', 'ln1')] = value
    ours.load_state_dict(out, strict=True)


def make_batch(arch: str, batch: int, full_length: bool = False, seed: int = 0):
    """Random normalised images and tokenised captions of 6-14 words.

    ``full_length`` fills every position (the end-of-text token last), so the
    text tower of either model runs the whole context.
    """
    a = ARCHS[arch]
    size, ctx = a['v'][4], a['t'][3]
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, size, size, generator=gen)
    if full_length:
        tokens = torch.randint(1, 49405, (batch, ctx), generator=gen)
        tokens[:, 0], tokens[:, -1] = 49406, 49407
        return images, tokens
    captions = []
    for _ in range(batch):
        n = int(torch.randint(6, 15, (1,), generator=gen))
        idx = torch.randint(len(CAPTION_WORDS), (n,), generator=gen).tolist()
        captions.append(' '.join(CAPTION_WORDS[i] for i in idx))
    return images, CLIPTokenizer(context_length=ctx)(captions)


def interleaved(fns: Dict[str, Callable[[], None]], rounds: int, warmup: int = 2,
                sync: Callable[[], None] = lambda: None) -> Dict[str, float]:
    """Median seconds per call of each function, called in turn every round.

    Calling the contenders alternately exposes them to the same machine load
    (this CPU is shared), so their ratio is fair even when absolute times drift.
    """
    times = {name: [] for name in fns}
    for r in range(warmup + rounds):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def saved_tensor_bytes(fn: Callable[[], object], model: torch.nn.Module) -> int:
    """Bytes of distinct non-parameter storages autograd keeps for backward.

    On a CPU there is no allocator peak counter; the activations saved for
    backward are the part of a training step's memory that implementations of
    one network differ in (parameters, gradients and AdamW state are equal).
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        try:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        except (RuntimeError, NotImplementedError):
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(n for ptr, n in seen.items() if ptr not in params)


def machine() -> str:
    import platform
    dev = (torch.cuda.get_device_name() if torch.cuda.is_available()
           else f'CPU {platform.processor() or platform.machine()}, '
                f'{torch.get_num_threads()} torch threads')
    return f'{dev}; torch {torch.__version__}; python {platform.python_version()}'


def load_average() -> str:
    """``os.getloadavg()`` against the CPU count: what else the machine was running."""
    one, five, fifteen = os.getloadavg()
    return (f'load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) '
            f'on {os.cpu_count()} CPUs')


def matmul_rate(dtype: torch.dtype = torch.float32, device: str = 'cpu', size: int = 0,
                repeats: int = 5) -> float:
    """The machine's measured matmul rate, FLOP/s: the best of ``repeats`` square products.

    ``size`` defaults to 2048 on a CPU and 8192 on a GPU (large enough for the
    library's peak kernels). The best of several short products is the rate
    the machine gives when nothing interrupts it, the reference that achieved
    rates are measured against in the same run.
    """
    size = size or (8192 if str(device).startswith('cuda') else 2048)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    sync = torch.cuda.synchronize if str(device).startswith('cuda') else (lambda: None)
    a @ b  # warm-up: thread pools, kernel selection
    best = float('inf')
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def write_rows(path: Optional[str], benchmark: str, settings: str, rows: List[dict]) -> None:
    """The rows of one benchmark as JSON, for ``benchmarks.suite_table`` (no-op without path)."""
    if path:
        with open(path, 'w') as f:
            json.dump(dict(benchmark=benchmark, settings=settings, machine=machine(),
                           load=load_average(), rows=rows), f, indent=1)
