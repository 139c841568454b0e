"""A long word costs bounded BPE work, and the ids that fit are the ones the full BPE gives.

Before, BPE (quadratic in a word's length) ran on the whole word and the ids were cut to
the context afterwards: a 50,000-character caption took 92 s. The reference here is
open_clip's tokenizer, which still runs BPE on the whole text before truncating.
"""
import random
import string

import pytest
import torch

from tpc_cma_mm.models import CLIPTokenizer
from tpc_cma_mm.models.tokenizer import TRUNCATION_MARGIN

open_clip_tokenizer = pytest.importorskip('open_clip.tokenizer')

LONGEST_TOKEN = 32  # byte symbols in the longest entry of OpenAI's merge list


@pytest.fixture(scope='module')
def reference():
    return open_clip_tokenizer.SimpleTokenizer()


def _spy_on_bpe(tokenizer, monkeypatch):
    """The byte-symbol strings handed to BPE."""
    seen, bpe = [], tokenizer._bpe.bpe
    monkeypatch.setattr(tokenizer._bpe, 'bpe', lambda symbols: seen.append(symbols) or
                        bpe(symbols))
    return seen


def _letters(length, alphabet=string.ascii_lowercase, seed=0):
    rng = random.Random(seed)
    return ''.join(rng.choice(alphabet) for _ in range(length))


def test_longest_token_is_what_the_bound_assumes():
    tokenizer = CLIPTokenizer()
    assert tokenizer._longest_token == LONGEST_TOKEN


@pytest.mark.parametrize('context_length', [8, 16])
@pytest.mark.parametrize('word', [
    _letters(2000), _letters(2000, 'aeiourstln', seed=1), '!?.,-_*#' * 250,
    ''.join(chr(0x4e00 + i * 37 % 20000) for i in range(700)),  # CJK: 3 bytes a character
    'photo' + 'beautifulsitting' * 125,
], ids=['letters', 'few-letters', 'punctuation', 'cjk', 'glued-words'])
def test_long_word_ids_equal_the_full_bpe_and_bpe_sees_a_bounded_prefix(
        reference, monkeypatch, context_length, word):
    tokenizer = CLIPTokenizer(context_length=context_length)
    seen = _spy_on_bpe(tokenizer, monkeypatch)
    text = f'a {word} cat'
    got = tokenizer([text])
    assert torch.equal(got, reference([text], context_length=context_length))
    fits = context_length - 2
    # 'a' and the prefix of the long word; 'cat' lies past the context and is never encoded
    assert len(seen) == 2
    assert len(seen[1]) == (fits - 1 + TRUNCATION_MARGIN) * LONGEST_TOKEN < len(word)


def test_context_77_long_word_equals_the_full_bpe(reference, monkeypatch):
    tokenizer = CLIPTokenizer(context_length=77)
    seen = _spy_on_bpe(tokenizer, monkeypatch)
    word = _letters(2700, seed=2)  # just over the 2,656 symbols handed to BPE
    assert torch.equal(tokenizer([word]), reference([word], context_length=77))
    assert [len(s) for s in seen] == [(75 + TRUNCATION_MARGIN) * LONGEST_TOKEN]


def test_a_50000_character_word_hands_bpe_a_bounded_prefix(monkeypatch):
    tokenizer = CLIPTokenizer(context_length=77)
    seen = _spy_on_bpe(tokenizer, monkeypatch)
    tokens = tokenizer([_letters(50000, seed=3)])[0]
    assert [len(s) for s in seen] == [(75 + TRUNCATION_MARGIN) * LONGEST_TOKEN]
    assert tokens[0] == tokenizer.sot_id and tokens[-1] == tokenizer.eot_id
    assert (tokens[1:-1] > 0).all()  # all 75 places filled with text tokens


def test_many_words_stop_once_the_context_is_full(reference, monkeypatch):
    tokenizer = CLIPTokenizer(context_length=77)
    seen = _spy_on_bpe(tokenizer, monkeypatch)
    text = ' '.join(['word'] * 20000)
    assert torch.equal(tokenizer([text]), reference([text], context_length=77))
    assert len(seen) == 75  # one token per word: BPE ran on the words that fit


@pytest.mark.parametrize('text', [
    'a photo of a cat', 'A small RED circle in the top left', 'x' * 300,
    "It's 2026: naïve café &amp; résumé!!", ' '.join(['word'] * 100),
    'supercalifragilisticexpialidocious ' * 10, '東京タワーの写真' * 30,
])
def test_ordinary_captions_are_unchanged(reference, text):
    tokenizer = CLIPTokenizer(context_length=77)
    assert torch.equal(tokenizer([text]), reference([text], context_length=77))
    # encode without a limit is the full encoding, as before
    assert tokenizer.encode(text) == reference.encode(text)
