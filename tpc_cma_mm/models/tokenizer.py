"""Offline CLIP byte-pair-encoding tokenizer with OpenAI's token ids.

mmpretrain's CLIP builds its tokenizer from the Hugging Face hub, which cannot
be reached here. The BPE merge list is the one OpenAI published; the wheel of
``clip-anytorch`` ships it, and we locate it without importing ``clip`` (which
would import torchvision and its CUDA operators).
"""
import gzip
import html
import importlib.util
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple, Union

import ftfy
import regex
import torch

from tpc_cma_mm.registry import MODELS

__all__ = ['CLIPTokenizer', 'find_bpe_vocab']

START_OF_TEXT = '<|startoftext|>'
END_OF_TEXT = '<|endoftext|>'
# The number of merges OpenAI's vocabulary uses (49152 BPE tokens = 512 byte
# symbols + merges, then the two special tokens).
NUM_MERGES = 49152 - 256 - 2
_WORD_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"""
    r"""[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)


def find_bpe_vocab() -> str:
    """Path of ``bpe_simple_vocab_16e6.txt.gz`` inside the clip-anytorch wheel."""
    spec = importlib.util.find_spec('clip')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'The CLIP BPE vocabulary was not found: install the pinned '
            '`clip-anytorch==2.6.0` (pip install -e . does), or pass '
            'CLIPTokenizer(bpe_path=...) pointing at bpe_simple_vocab_16e6.txt.gz.')
    path = osp.join(spec.submodule_search_locations[0],
                    'bpe_simple_vocab_16e6.txt.gz')
    if not osp.isfile(path):
        raise FileNotFoundError(f'The clip package has no BPE vocabulary at {path}.')
    return path


@lru_cache()
def _byte_symbols() -> Dict[int, str]:
    """A reversible map from the 256 byte values to printable unicode symbols.

    Printable Latin-1 bytes map to themselves; the others are moved to code
    points from 256 upwards, so that BPE never sees whitespace or control
    characters (the scheme GPT-2 and CLIP use).
    """
    printable = (list(range(ord('!'), ord('~') + 1)) +
                 list(range(ord('¡'), ord('¬') + 1)) +
                 list(range(ord('®'), ord('ÿ') + 1)))
    mapping = {b: chr(b) for b in printable}
    next_code = 256
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(next_code)
            next_code += 1
    return mapping


def _normalise(text: str) -> str:
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return regex.sub(r'\s+', ' ', text).strip().lower()


@MODELS.register_module()
class CLIPTokenizer:
    """CLIP's BPE tokenizer, offline, with ids identical to OpenAI's.

    Example config::

        tokenizer = dict(type='CLIPTokenizer', context_length=77)

    ``tokenizer('a photo of a cat')`` returns a ``(1, context_length)`` long
    tensor: ``49406 320 1125 539 320 2368 49407`` then zeros. Texts longer than
    the context are truncated and still end with the end-of-text token.

    Args:
        context_length (int): Tokens per text, start and end tokens included.
        bpe_path (str, optional): The gzipped merge list; defaults to the one
            in the clip-anytorch wheel.
    """

    def __init__(self, context_length: int = 77, bpe_path: Optional[str] = None):
        if context_length < 3:
            raise ValueError(f'context_length must be >= 3, got {context_length}')
        self.context_length = context_length
        bpe_path = bpe_path or find_bpe_vocab()
        with gzip.open(bpe_path, 'rt', encoding='utf-8') as f:
            lines = f.read().split('\n')[1:NUM_MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        symbols = list(_byte_symbols().values())
        vocab = symbols + [s + '</w>' for s in symbols]
        vocab += [''.join(pair) for pair in merges] + [START_OF_TEXT, END_OF_TEXT]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.decoder = {i: token for token, i in self.encoder.items()}
        self.merge_rank = {pair: i for i, pair in enumerate(merges)}
        self.byte_decoder = {s: b for b, s in _byte_symbols().items()}
        self.sot_id = self.encoder[START_OF_TEXT]
        self.eot_id = self.encoder[END_OF_TEXT]
        self.vocab_size = len(vocab)
        self._word_cache: Dict[str, Tuple[str, ...]] = {}

    def _bpe(self, word: str) -> Tuple[str, ...]:
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        parts = list(word[:-1]) + [word[-1] + '</w>']
        while len(parts) > 1:
            ranked = [(self.merge_rank.get(pair, NUM_MERGES), i)
                      for i, pair in enumerate(zip(parts, parts[1:]))]
            best_rank, best_index = min(ranked)
            if best_rank == NUM_MERGES:
                break
            first, second = parts[best_index], parts[best_index + 1]
            merged: List[str] = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        result = tuple(parts)
        self._word_cache[word] = result
        return result

    def encode(self, text: str) -> List[int]:
        """BPE ids of ``text`` without start / end tokens."""
        byte_symbols = _byte_symbols()
        ids: List[int] = []
        for word in _WORD_PATTERN.findall(_normalise(text)):
            word = ''.join(byte_symbols[b] for b in word.encode('utf-8'))
            ids.extend(self.encoder[token] for token in self._bpe(word))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; padding and special tokens are dropped."""
        special = {self.sot_id, self.eot_id, 0}
        text = ''.join(self.decoder[int(i)] for i in ids if int(i) not in special)
        raw = bytearray(self.byte_decoder[c] for c in text)
        return raw.decode('utf-8', errors='replace').replace('</w>', ' ').strip()

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        tokens = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.sot_id] + self.encode(text)[:self.context_length - 2]
            ids.append(self.eot_id)
            tokens[row, :len(ids)] = torch.tensor(ids)
        return tokens
