"""Builds the tiny CLIP reference checkpoints that tests/test_clip.py loads.

Not run in CI: it needs PyTorch, Hugging Face `transformers` and `open_clip_torch`, which are
not project dependencies. It writes small random-weight CLIP models in both key layouts, their
tokenizer files, and the reference implementations' outputs on fixed inputs, so the parity
test runs with NumPy and JAX only.

Regenerate (from the repository root, in a throwaway environment):

    python3 -m venv /tmp/venv-torch
    /tmp/venv-torch/bin/pip install torch==2.13.0 transformers safetensors open_clip_torch
    /tmp/venv-torch/bin/python tests/data/make_clip_reference.py

Outputs (about 1 MB together):

    tests/data/clip_tiny_hf/        model.safetensors, config.json, vocab.json, merges.txt,
                                    reference.npz (transformers CLIPModel, QuickGELU)
    tests/data/clip_tiny_openclip/  open_clip_model.safetensors, open_clip_config.json,
                                    bpe_simple_vocab_16e6.txt.gz,
                                    reference.npz (open_clip CLIP, exact GELU)

reference.npz holds `texts`, the reference tokenizer's `tokens` [N, L], `images`
[M, H, W, 3] (already normalised, channels last), and the reference `text_embeds` [N, E] and
`image_embeds` [M, E] (projected, not unit-normalised), all float32.
"""

from __future__ import annotations

import collections
import gzip
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SEED = 0
CONTEXT = 16
NUM_MERGES = 96
TEXTS = [
    "pole vertically upright on top of the cart",
    "pole and cart",
    "a humanoid robot kneeling",
    "A car at the peak of the mountain, next to the yellow flag!",
    "it's 2 o'clock and   the robot's arms are raised",
    "a cart",
]
# The BPE merges are learned from these (plus the prompts above), so common words become
# single tokens and rarer ones exercise the byte fallback.
CORPUS = TEXTS * 3 + ["a humanoid robot seated down, meditating in the lotus position", "a car in the mountain"]


def bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP order: printable bytes as themselves first, then the rest from chr(256) on.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping = {b: chr(b) for b in printable}
    mapping.update({b: chr(256 + i) for i, b in enumerate(b for b in range(256) if b not in mapping)})
    return mapping


def learn_merges(corpus: list[str], count: int) -> list[tuple[str, str]]:
    """Greedy BPE training (Sennrich et al. 2016) on lower-cased whitespace words."""
    enc = bytes_to_unicode()
    words = collections.Counter()
    for text in corpus:
        for w in text.lower().split():
            symbols = [enc[b] for b in w.encode()]
            words[tuple(symbols[:-1] + [symbols[-1] + "</w>"])] += 1
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new = collections.Counter()
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += n
        words = new
    return merges


def vocabulary(merges) -> list[str]:
    symbols = list(bytes_to_unicode().values())
    return symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]


def perturb(model: torch.nn.Module) -> None:
    """Noise on every parameter, so layer-norm scales/biases are not the trivial 1/0 and a
    swapped or transposed tensor shows in the embeddings."""
    gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))


def images(height: int, count: int = 3) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return rng.normal(size=(count, height, height, 3)).astype(np.float32)


def save_reference(folder: Path, tokens, imgs, text_embeds, image_embeds) -> None:
    np.savez_compressed(
        folder / "reference.npz",
        texts=np.array(TEXTS),
        tokens=np.asarray(tokens, np.int32),
        images=imgs,
        text_embeds=np.asarray(text_embeds, np.float32),
        image_embeds=np.asarray(image_embeds, np.float32),
    )


def make_hf(merges) -> None:
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder = HERE / "clip_tiny_hf"
    folder.mkdir(exist_ok=True)
    vocab = vocabulary(merges)
    (folder / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", encoding="utf-8")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    eos, bos = len(vocab) - 1, len(vocab) - 2
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=CONTEXT, eos_token_id=eos, bos_token_id=bos, pad_token_id=eos, hidden_act="quick_gelu",
        ),
        vision_config=dict(
            hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, image_size=32,
            patch_size=8, hidden_act="quick_gelu",
        ),
        projection_dim=24,
    )
    torch.manual_seed(SEED)
    model = CLIPModel(config).eval()
    perturb(model)
    model.save_pretrained(folder, safe_serialization=True)
    tokens = tok(TEXTS, padding="max_length", max_length=CONTEXT, truncation=True, return_tensors="pt")["input_ids"]
    imgs = images(32)
    with torch.no_grad():
        text_embeds = model.get_text_features(input_ids=tokens)
        image_embeds = model.get_image_features(pixel_values=torch.from_numpy(imgs).permute(0, 3, 1, 2))
    save_reference(folder, tokens.numpy(), imgs, _tensor(text_embeds), _tensor(image_embeds))


def _tensor(out) -> np.ndarray:
    # transformers >= 5 returns a model output object from get_*_features; older versions a tensor.
    if not isinstance(out, torch.Tensor):
        out = out.pooler_output
    return out.numpy()


def _stub_torchvision_if_broken() -> None:
    """open_clip imports torchvision for its image transforms only, which this script does not
    use. PyPI's torchvision wheel does not load against the CPU-only torch wheel, so when it
    fails to import, an inert stand-in module satisfies those imports; the model code under
    test (open_clip.model / open_clip.transformer) is pure torch."""
    try:
        import torchvision  # noqa: F401
    except Exception:
        import importlib.machinery
        import types

        class _InertType(type):
            def __getattr__(cls, name):
                if name.startswith("__"):
                    raise AttributeError(name)
                return name  # e.g. InterpolationMode.BICUBIC, used as a default argument

        class _Inert(types.ModuleType):
            def __getattr__(self, name):
                if name.startswith("__"):
                    raise AttributeError(name)
                return _InertType(name, (), {"__init__": lambda self, *a, **k: None})

        for name in ("torchvision", "torchvision.transforms", "torchvision.transforms.functional",
                     "torchvision.transforms.v2", "torchvision.ops", "torchvision.ops.misc", "torchvision.models"):
            module = _Inert(name)
            module.__path__ = []
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)


def make_openclip(merges) -> None:
    _stub_torchvision_if_broken()
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer
    from safetensors.torch import save_file

    folder = HERE / "clip_tiny_openclip"
    folder.mkdir(exist_ok=True)
    # OpenCLIP's merges file: a header line, then merges; the vocabulary is derived from it.
    with gzip.open(folder / "bpe_simple_vocab_16e6.txt.gz", "wt", encoding="utf-8") as f:
        # No trailing newline: OpenCLIP would read the empty last line as a merge.
        f.write("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges))
    tok = SimpleTokenizer(str(folder / "bpe_simple_vocab_16e6.txt.gz"), context_length=CONTEXT)
    vocab_size = len(tok.encoder)
    torch.manual_seed(SEED)
    model = open_clip.model.CLIP(
        embed_dim=20,
        vision_cfg=open_clip.model.CLIPVisionCfg(layers=2, width=64, head_width=16, mlp_ratio=1.5, patch_size=8, image_size=24),
        text_cfg=open_clip.model.CLIPTextCfg(context_length=CONTEXT, vocab_size=vocab_size, width=32, heads=2, layers=2, mlp_ratio=2.0),
        quick_gelu=False,
    ).eval()
    perturb(model)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    # OpenCLIP releases ship their model config beside the weights under this name.
    model_cfg = {
        "embed_dim": 20,
        "quick_gelu": False,
        "vision_cfg": {"image_size": 24, "layers": 2, "width": 64, "head_width": 16, "mlp_ratio": 1.5, "patch_size": 8},
        "text_cfg": {"context_length": CONTEXT, "vocab_size": vocab_size, "width": 32, "heads": 2, "layers": 2, "mlp_ratio": 2.0},
    }
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}, indent=1))
    tokens = tok(TEXTS, context_length=CONTEXT)
    imgs = images(24)
    with torch.no_grad():
        text_embeds = model.encode_text(tokens)
        image_embeds = model.encode_image(torch.from_numpy(imgs).permute(0, 3, 1, 2))
    save_reference(folder, tokens.numpy(), imgs, text_embeds.numpy(), image_embeds.numpy())


if __name__ == "__main__":
    merges = learn_merges(CORPUS, NUM_MERGES)
    make_hf(merges)
    if "--hf-only" not in sys.argv:
        make_openclip(merges)
    print("wrote", *(p.relative_to(HERE) for p in sorted(HERE.glob("clip_tiny_*/*"))))
