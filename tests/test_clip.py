"""CLIP in Flax: parity with the reference implementations, loader errors, tokenizer.

The reference checkpoints under tests/data/clip_tiny_* are tiny random-weight CLIP models
built by tests/data/make_clip_reference.py with Hugging Face `transformers` (PyTorch) and
`open_clip`, together with those libraries' tokens and embeddings for fixed inputs. Neither
library is needed here: the comparison is against the stored outputs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward.rewards.encoders import CLIP, CONFIGS, CheckpointError, load_clip
from jaxreward.rewards.encoders.clip_checkpoint import _hf_expected, _openclip_expected

DATA = Path(__file__).parent / "data"
LAYOUTS = {"huggingface": DATA / "clip_tiny_hf", "openclip": DATA / "clip_tiny_openclip"}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def loaded(request):
    folder = LAYOUTS[request.param]
    if not folder.is_dir():
        pytest.skip(f"{folder} not generated (tests/data/make_clip_reference.py)")
    return load_clip(folder), dict(np.load(folder / "reference.npz"))


def _embed(loaded_clip, tokens=None, images=None):
    model = CLIP(loaded_clip.config)
    if tokens is not None:
        return np.asarray(jax.jit(lambda p, t: model.apply({"params": p}, t, method=model.encode_text))(loaded_clip.params, tokens))
    return np.asarray(jax.jit(lambda p, x: model.apply({"params": p}, x, method=model.encode_image))(loaded_clip.params, images))


def test_layout_is_detected(loaded):
    clip, _ = loaded
    assert clip.source.parent == LAYOUTS[clip.layout]


def test_tokenizer_matches_reference_up_to_padding(loaded):
    clip, ref = loaded
    ours = clip.tokenizer([str(t) for t in ref["texts"]])
    assert ours.shape == ref["tokens"].shape
    eos = clip.tokenizer.eos_id
    for row_ours, row_ref in zip(ours, ref["tokens"]):
        # Pad ids differ between references (transformers pads with <|endoftext|>, OpenCLIP
        # with 0) and never reach the embedding under the causal mask; the rest must agree.
        end = list(row_ref).index(eos) + 1
        np.testing.assert_array_equal(row_ours[:end], row_ref[:end])


def test_text_embeddings_match_reference(loaded):
    clip, ref = loaded
    ours = _embed(clip, tokens=jnp.asarray(clip.tokenizer([str(t) for t in ref["texts"]])))
    assert np.max(np.abs(ours - ref["text_embeds"])) < 1e-4


def test_image_embeddings_match_reference(loaded):
    clip, ref = loaded
    ours = _embed(clip, images=jnp.asarray(ref["images"]))
    assert np.max(np.abs(ours - ref["image_embeds"])) < 1e-4


def test_bfloat16_tower_stays_close():
    # One layout only: the towers are the same module, and bf16 compiles slowly on CPU.
    clip = load_clip(LAYOUTS["huggingface"])
    ref = dict(np.load(LAYOUTS["huggingface"] / "reference.npz"))
    model = CLIP(clip.config, dtype=jnp.bfloat16)
    encode = jax.jit(lambda p, x: model.apply({"params": p}, x, method=model.encode_image))
    ours = np.asarray(encode(clip.params, jnp.asarray(ref["images"])))
    cos = np.sum(ours * ref["image_embeds"], -1) / np.linalg.norm(ours, axis=-1) / np.linalg.norm(ref["image_embeds"], axis=-1)
    # Measured: cosine similarity to the float32 reference at least 0.99995 on each image.
    assert ours.dtype == np.float32 and np.all(cos > 0.9995), cos


def test_named_configs_have_consistent_shapes():
    # bigG: 1664-wide ViT with 16 heads of 104, 8192-wide MLP; 1280-wide text with 20 heads.
    big = CONFIGS["ViT-bigG-14"]
    assert (big.vision.width // big.vision.heads, big.vision.mlp_dim, big.text.heads, big.embed_dim) == (104, 8192, 20, 1280)
    for name, cfg in CONFIGS.items():
        cfg.validate()
        hf, oc = _hf_expected(cfg), _openclip_expected(cfg)
        # Same number of tensors in both layouts, except OpenCLIP packs q, k, v (6 -> 2 per block).
        blocks = cfg.vision.layers + cfg.text.layers
        assert len(hf) - len(oc) == 4 * blocks, name


def _copy(tmp_path, src: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def test_missing_checkpoint_names_path_and_download(tmp_path):
    with pytest.raises(CheckpointError, match=r"does not exist.*openai/clip-vit-base-patch32"):
        load_clip(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match=r"no CLIP weights in .*model\.safetensors"):
        load_clip(tmp_path)


def test_mismatched_checkpoint_lists_keys_and_shapes(tmp_path):
    folder = _copy(tmp_path, LAYOUTS["huggingface"])
    config = json.loads((folder / "config.json").read_text())
    config["vision_config"]["num_hidden_layers"] = 3  # the weights have 2 blocks
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as err:
        load_clip(folder)
    message = str(err.value)
    assert "model.safetensors" in message and "vision_model.encoder.layers.2.self_attn.q_proj.weight: expected (48, 48), found missing" in message
    assert "Download" in message
    with pytest.raises(CheckpointError, match=r"visual_projection\.weight: expected \(512, 768\), found \(24, 48\)"):
        load_clip(LAYOUTS["huggingface"], config="ViT-B-32")


def test_missing_tokenizer_names_files(tmp_path):
    folder = _copy(tmp_path, LAYOUTS["huggingface"])
    (folder / "merges.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"vocab\.json and merges\.txt"):
        load_clip(folder)


def test_no_download_code_path():
    # Offline by construction: nothing in the encoders package can fetch a URL.
    package = Path(__file__).parents[1] / "jaxreward" / "rewards" / "encoders"
    source = "\n".join(p.read_text() for p in package.glob("*.py"))
    for needle in ("urllib", "requests", "http://", "https://", "hf_hub_download", "snapshot_download"):
        assert needle not in source, needle


def test_save_then_load_round_trips(tmp_path):
    from jaxreward.rewards.encoders.clip_checkpoint import save_clip

    clip = load_clip(LAYOUTS["openclip"])  # read in one layout, written in the other
    again = load_clip(save_clip(tmp_path / "copy", clip.config, clip.params, clip.tokenizer))
    assert again.layout == "huggingface" and again.config == clip.config
    jax.tree.map(np.testing.assert_array_equal, again.params, clip.params)
    texts = ["pole and cart", "a humanoid robot kneeling"]
    np.testing.assert_array_equal(again.tokenizer(texts), clip.tokenizer(texts))
