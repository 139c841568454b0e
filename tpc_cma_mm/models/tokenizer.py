"""Offline CLIP byte-pair-encoding tokenizer with OpenAI's token ids.

mmpretrain's CLIP builds its tokenizer from the Hugging Face hub, which cannot
be reached here. The BPE itself (merge list, byte map, merge loop) is the one
``clip-anytorch`` ships; its module is loaded from its file, without
importing the ``clip`` package, which would import torchvision and its CUDA
operators (docs/pitfalls.md, "mmpretrain's CLIP is inference-only").

Two measured choices:
- clip-anytorch's BPE gives open_clip's ids on every string tested, including
  20,000 random Unicode strings; the Rust ``tokenizers`` BPE configured as
  transformers' ``CLIPTokenizerFast`` does not (its regex engine puts some
  combining and format characters in other classes: 204 of 20,000 differ),
  and gave no clear speed-up here: the Python text clean-up (ftfy) dominates.
- Text never produces the special ids: the word pattern has no special-token
  alternatives, so ``'<|endoftext|>'`` in a caption is ordinary text, as in
  open_clip. open_clip itself turns its own spellings ``'<start_of_text>'``
  and ``'<end_of_text>'`` into the special ids; here they are ordinary text
  too, because the text tower pools at the first end-of-text id.

BPE is quadratic in a word's length, so a 50,000-character word once took 92 s
although only its first tokens fit in the context. ``encode`` therefore stops
once it has the tokens that fit, and hands BPE at most the first
``(tokens still needed + TRUNCATION_MARGIN) * longest token`` symbols of a
word. Words that short (every ordinary caption's) are encoded exactly as
before; a longer word's prefix gives at least that many tokens, of which only
the last one or two differed from the whole word's on the words measured
(random letters, glued English words, punctuation, CJK, accented letters), so
the margin keeps the tokens that fit equal to the whole word's
(tests/models/test_tokenizer_long_words.py).
"""
import importlib.util
import os.path as osp
from functools import lru_cache
from types import ModuleType
from typing import List, Optional, Sequence, Union

import regex
import torch

from tpc_cma_mm.registry import TOKENIZER

__all__ = ['CLIPTokenizer', 'find_bpe_vocab']

# Extra tokens BPE gets to see past the context's end, so that the cut at the end of a
# word's prefix cannot change the tokens that fit (module docstring).
TRUNCATION_MARGIN = 8

# OpenAI's word pattern without its leading special-token alternatives.
_WORD_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)


def _clip_package_dir() -> str:
    spec = importlib.util.find_spec('clip')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'The CLIP BPE tokenizer was not found: install the pinned '
            '`clip-anytorch==2.6.0` (pip install -e . does).')
    return spec.submodule_search_locations[0]


def find_bpe_vocab() -> str:
    """Path of ``bpe_simple_vocab_16e6.txt.gz`` inside the clip-anytorch wheel."""
    path = osp.join(_clip_package_dir(), 'bpe_simple_vocab_16e6.txt.gz')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'The clip package has no BPE vocabulary at {path}; reinstall '
            '`clip-anytorch==2.6.0`, or pass CLIPTokenizer(bpe_path=...) pointing at '
            'bpe_simple_vocab_16e6.txt.gz.')
    return path


@lru_cache()
def _simple_tokenizer_module() -> ModuleType:
    """clip-anytorch's ``simple_tokenizer`` module, loaded from its file alone."""
    path = osp.join(_clip_package_dir(), 'simple_tokenizer.py')
    spec = importlib.util.spec_from_file_location('tpc_cma_mm._clip_simple_tokenizer', path)
    if spec is None or not osp.isfile(path):
        raise FileNotFoundError(f'clip-anytorch has no simple_tokenizer.py at {path}; '
                                'reinstall `clip-anytorch==2.6.0`.')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache()
def _shared_bpe(bpe_path: str) -> tuple:
    """(clip-anytorch's ``SimpleTokenizer`` of ``bpe_path``, its longest token in byte
    symbols), read once per process: every data set pipeline and model builds a tokenizer,
    and reading the 49,000 merges took ~60 ms each time. Sharing it is safe: its only
    state that changes is a cache of BPE's output per word, the same for every user."""
    bpe = _simple_tokenizer_module().SimpleTokenizer(bpe_path)
    return bpe, max(len(token.replace('</w>', '')) for token in bpe.encoder)


@TOKENIZER.register_module()
class CLIPTokenizer:
    """CLIP's BPE tokenizer, offline, with OpenAI's and open_clip's ids.

    Example config::

        tokenizer = dict(type='CLIPTokenizer', context_length=77)
        # built with tpc_cma_mm.registry.TOKENIZER.build(tokenizer)

    ``tokenizer('a photo of a cat')`` returns a ``(1, context_length)`` long
    tensor: ``49406 320 1125 539 320 2368 49407`` then zeros. Texts longer than
    the context are truncated and still end with the end-of-text token. The
    start / end ids appear only there: no text produces them.

    Args:
        context_length (int): Tokens per text, start and end tokens included.
        bpe_path (str, optional): The gzipped merge list; defaults to the one
            in the clip-anytorch wheel.
    """

    def __init__(self, context_length: int = 77, bpe_path: Optional[str] = None):
        if isinstance(context_length, bool) or not isinstance(context_length, int) \
                or context_length < 3:
            raise ValueError(f'context_length must be an integer >= 3 (start, one token, '
                             f'end), got {context_length!r}')
        self.context_length = context_length
        self.bpe_path = bpe_path or find_bpe_vocab()
        # _longest_token: in byte symbols, '</w>' left out
        self._bpe, self._longest_token = _shared_bpe(self.bpe_path)
        self._clean = _simple_tokenizer_module().basic_clean
        self.sot_id = self._bpe.encoder['<|startoftext|>']
        self.eot_id = self._bpe.encoder['<|endoftext|>']
        self.vocab_size = len(self._bpe.encoder)

    def __reduce__(self):
        # rebuilt from its arguments: the loaded clip module is not importable by name,
        # so its objects do not pickle (spawned loader workers pickle the pipeline)
        return type(self), (self.context_length, self.bpe_path)

    def encode(self, text: str, max_tokens: Optional[int] = None) -> List[int]:
        """BPE ids of ``text`` without start / end tokens.

        With ``max_tokens``, the first ``max_tokens`` ids, computed without
        running BPE on what cannot fit (module docstring).
        """
        byte_encoder, encoder = self._bpe.byte_encoder, self._bpe.encoder
        ids: List[int] = []
        # open_clip's default clean-up ('lower'): clip's ftfy + HTML-entity fix, then
        # whitespace runs by str.split as open_clip does, then lower case
        text = ' '.join(self._clean(text).split()).lower()
        for match in _WORD_PATTERN.finditer(text):
            if max_tokens is not None and len(ids) >= max_tokens:
                return ids[:max_tokens]
            word, limit = match.group(), None
            if max_tokens is not None:
                limit = (max_tokens - len(ids) + TRUNCATION_MARGIN) * self._longest_token
                word = word[:limit]  # a character is at least one byte symbol
            symbols = ''.join(byte_encoder[b] for b in word.encode('utf-8'))[:limit]
            ids.extend(encoder[token] for token in self._bpe.bpe(symbols).split(' '))
        return ids if max_tokens is None else ids[:max_tokens]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; padding and special tokens are dropped."""
        special = {self.sot_id, self.eot_id, 0}
        kept = [int(i) for i in ids if int(i) not in special]
        return self._bpe.decode(kept).strip()

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        tokens = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f'CLIPTokenizer takes str texts; item {row} is a '
                                f'{type(text).__name__}: {text!r}')
            ids = [self.sot_id] + self.encode(text, self.context_length - 2)
            ids.append(self.eot_id)
            tokens[row, :len(ids)] = torch.tensor(ids)
        return tokens
