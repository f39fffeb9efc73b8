"""CLIP's byte-level BPE tokenizer, read from local files (no network, no `regex` package).

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision"
(ICML 2021) use a lower-cased byte-pair encoding (Sennrich et al., 2016) over UTF-8 bytes
with a 49,152-token vocabulary; words end in `</w>`, and every text is wrapped in
`<|startoftext|> ... <|endoftext|>` and padded to the context length (77).

Two file layouts are read:

- Hugging Face: `vocab.json` (token -> id) and `merges.txt` (a header line, then one merge
  `a b` per line, by priority);
- OpenCLIP / OpenAI: `bpe_simple_vocab_16e6.txt.gz` (merges only; the vocabulary is the 256
  byte symbols, the same with `</w>`, the merged symbols, then the two special tokens).

Deliberate deviations: text is whitespace-normalised and lower-cased but not run through
`ftfy` (not a dependency; it only repairs broken Unicode), and the word splitter uses Python's
`re` (`[^\\W\\d_]` for letters, `\\d` for numbers) where the references use `regex`'s
`\\p{L}` / `\\p{N}`; both agree on ASCII prompts, which is what reward prompts are.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

import numpy as np

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
#: Merges CLIP keeps from its 16e6 merge list (vocabulary 49408 = 256·2 + 48894 + 2).
OPENAI_NUM_MERGES = 49152 - 256 - 2

_WORDS = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+",
    re.IGNORECASE,
)


def bytes_to_unicode() -> dict[int, str]:
    """The reversible byte -> printable character map of byte-level BPE (GPT-2, CLIP).

    Printable Latin-1 bytes map to themselves; the remaining 68 bytes map to code points from
    256 upward, so every byte is one visible, non-whitespace character. The dict's order
    (printable bytes first, then the others) is the order of the first 256 vocabulary
    entries in OpenAI's vocabulary, so it matters when the vocabulary is derived from merges.
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in mapping]
    mapping.update({b: chr(256 + i) for i, b in enumerate(others)})
    return mapping


def _merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """`word` with every occurrence of the adjacent `pair` joined into one symbol."""
    merged, i = [], 0
    while i < len(word):
        if i < len(word) - 1 and (word[i], word[i + 1]) == pair:
            merged.append(word[i] + word[i + 1])
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return tuple(merged)


class Tokenizer:
    """Text -> token ids [N, context_length] int32, as CLIP's own tokenizer produces them."""

    def __init__(self, encoder: dict[str, int], merges: list[tuple[str, str]], context_length: int = 77):
        missing = [t for t in (BOS, EOS) if t not in encoder]
        if missing:
            raise ValueError(f"tokenizer vocabulary lacks the special tokens {missing}")
        self.encoder = encoder
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.context_length = context_length
        self.byte_encoder = bytes_to_unicode()
        self.bos_id, self.eos_id = encoder[BOS], encoder[EOS]
        self._bpe = functools.lru_cache(maxsize=4096)(self._bpe_uncached)

    @classmethod
    def from_folder(cls, folder: str | Path, context_length: int = 77) -> "Tokenizer":
        """Reads `vocab.json` + `merges.txt`, else `bpe_simple_vocab_16e6.txt.gz`, from `folder`."""
        folder = Path(folder)
        vocab, merges_file, openai_file = folder / "vocab.json", folder / "merges.txt", folder / "bpe_simple_vocab_16e6.txt.gz"
        if vocab.is_file() and merges_file.is_file():
            encoder = json.loads(vocab.read_text(encoding="utf-8"))
            lines = merges_file.read_text(encoding="utf-8").splitlines()
            merges = [tuple(line.split()) for line in lines if line and not line.startswith("#version")]
            return cls(encoder, merges, context_length)
        if openai_file.is_file():
            lines = gzip.open(openai_file, "rt", encoding="utf-8").read().split("\n")
            merges = [tuple(line.split()) for line in lines[1 : OPENAI_NUM_MERGES + 1] if line.strip()]
            symbols = list(bytes_to_unicode().values())
            symbols = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS, EOS]
            return cls({s: i for i, s in enumerate(symbols)}, merges, context_length)
        raise FileNotFoundError(
            f"no CLIP tokenizer files in {folder}: expected vocab.json and merges.txt (Hugging Face layout, "
            f"e.g. from openai/clip-vit-base-patch32) or bpe_simple_vocab_16e6.txt.gz (OpenCLIP/OpenAI layout). "
            f"Download them next to the weights; nothing is fetched at run time."
        )

    def save(self, folder: str | Path) -> None:
        """Writes `vocab.json` and `merges.txt` (the Hugging Face layout) into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.json").write_text(json.dumps(self.encoder, ensure_ascii=False), encoding="utf-8")
        merges = sorted(self.ranks, key=self.ranks.get)
        (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", encoding="utf-8")

    @classmethod
    def train(cls, corpus: list[str], num_merges: int, context_length: int = 77) -> "Tokenizer":
        """A small vocabulary in CLIP's format learned from `corpus` (greedy BPE, Sennrich et
        al. 2016): the 256 byte symbols, the same with `</w>`, the merged symbols, the two
        special tokens. For in-project stand-in models only; real checkpoints bring their own."""
        byte_encoder = bytes_to_unicode()
        words: dict[tuple[str, ...], int] = {}
        for text in corpus:
            for word in _WORDS.findall(" ".join(text.split()).lower()):
                symbols = [byte_encoder[b] for b in word.encode("utf-8")]
                key = tuple(symbols[:-1] + [symbols[-1] + "</w>"])
                words[key] = words.get(key, 0) + 1
        merges = []
        for _ in range(num_merges):
            pairs: dict[tuple[str, str], int] = {}
            for word, count in words.items():
                for pair in zip(word, word[1:]):
                    pairs[pair] = pairs.get(pair, 0) + count
            if not pairs:
                break
            best = max(sorted(pairs), key=pairs.get)  # ties broken by symbol order: deterministic
            merges.append(best)
            words = {_merge(word, best): count for word, count in words.items()}
        symbols = list(byte_encoder.values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS, EOS]
        return cls({s: i for i, s in enumerate(vocab)}, merges, context_length)

    def _bpe_uncached(self, token: str) -> tuple[str, ...]:
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            word = _merge(word, best)
        return word

    def encode(self, text: str) -> list[int]:
        """Ids of `text` without the special tokens."""
        text = " ".join(text.split()).lower()
        ids = []
        for word in _WORDS.findall(text):
            symbols = "".join(self.byte_encoder[b] for b in word.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self._bpe(symbols))
        return ids

    def __call__(self, texts: str | list[str]) -> np.ndarray:
        """texts -> [N, context_length] int32: BOS, ids, EOS, zero padding; over-long texts
        are cut and keep EOS last (OpenCLIP's rule)."""
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), self.context_length), np.int32)
        for row, text in enumerate(texts):
            ids = [self.bos_id] + self.encode(text)[: self.context_length - 2] + [self.eos_id]
            out[row, : len(ids)] = ids
        return out
