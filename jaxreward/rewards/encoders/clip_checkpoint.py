"""Loads CLIP weights from a local `.safetensors` file into `clip_model.CLIP` parameters.

Reads with NumPy (`safetensors.numpy`), so PyTorch is never needed, and only from the path the
user gives: there is no download code path (the project is offline by construction). Two key
layouts are understood:

- Hugging Face `transformers` `CLIPModel` (`model.safetensors` of e.g.
  `openai/clip-vit-base-patch32`, `laion/CLIP-ViT-bigG-14-laion2B-39B-b160k`):
  `vision_model.encoder.layers.{i}.self_attn.q_proj.weight`, ..., `visual_projection.weight`;
- OpenCLIP (`open_clip_model.safetensors`): `visual.transformer.resblocks.{i}.attn.in_proj_weight`,
  ..., `visual.proj`, `text_projection`.

The shape of the model comes from, in this order: the `config` argument (a `CLIPConfig` or a
name in `clip_model.CONFIGS`), the Hugging Face `config.json` or the OpenCLIP
`open_clip_config.json` beside the weights, or the named configuration whose shapes match
the checkpoint. (With a named OpenAI config and OpenCLIP-layout weights, pass the activation
explicitly if it differs: OpenCLIP's `-quickgelu` names are the QuickGELU ones.) Every expected tensor is checked by name
and shape before anything is built; a problem raises `CheckpointError` naming the file, the
offending keys with their expected shapes, and what to download.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
import numpy as np

from jaxreward.rewards.encoders.clip_model import CONFIGS, CLIPConfig, TextConfig, VisionConfig
from jaxreward.rewards.encoders.tokenizer import Tokenizer

WEIGHT_FILES = ("model.safetensors", "open_clip_model.safetensors")
#: Non-persistent buffers some exports still carry; they hold no weights.
IGNORED_SUFFIXES = ("position_ids", "attn_mask")
DOWNLOAD_HINT = (
    "Download a CLIP checkpoint yourself (nothing is fetched at run time) and pass its folder, e.g. "
    "the files model.safetensors, config.json, vocab.json and merges.txt of the Hugging Face repository "
    "openai/clip-vit-base-patch32 (or laion/CLIP-ViT-bigG-14-laion2B-39B-b160k for the paper's best encoder), "
    "or open_clip_model.safetensors plus the tokenizer files of an OpenCLIP release."
)


class CheckpointError(ValueError):
    """A missing, unreadable or mismatched CLIP checkpoint."""


@dataclass(frozen=True)
class LoadedCLIP:
    config: CLIPConfig
    params: dict
    tokenizer: Tokenizer
    layout: str  # "huggingface" or "openclip"
    source: Path


# --- checkpoint layouts -------------------------------------------------------------------

def _hf_expected(cfg: CLIPConfig) -> dict[str, tuple]:
    """Hugging Face key -> shape of every tensor `cfg` needs."""
    v, t, e = cfg.vision, cfg.text, cfg.embed_dim
    out = {
        "vision_model.embeddings.class_embedding": (v.width,),
        "vision_model.embeddings.patch_embedding.weight": (v.width, 3, v.patch_size, v.patch_size),
        "vision_model.embeddings.position_embedding.weight": (v.num_patches + 1, v.width),
        "vision_model.pre_layrnorm.weight": (v.width,),  # sic: the transformers spelling
        "vision_model.pre_layrnorm.bias": (v.width,),
        "vision_model.post_layernorm.weight": (v.width,),
        "vision_model.post_layernorm.bias": (v.width,),
        "visual_projection.weight": (e, v.width),
        "text_model.embeddings.token_embedding.weight": (t.vocab_size, t.width),
        "text_model.embeddings.position_embedding.weight": (t.context_length, t.width),
        "text_model.final_layer_norm.weight": (t.width,),
        "text_model.final_layer_norm.bias": (t.width,),
        "text_projection.weight": (e, t.width),
        "logit_scale": (),
    }
    for tower, c in (("vision_model", v), ("text_model", t)):
        for i in range(c.layers):
            p = f"{tower}.encoder.layers.{i}."
            for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                out[p + f"self_attn.{proj}.weight"] = (c.width, c.width)
                out[p + f"self_attn.{proj}.bias"] = (c.width,)
            for ln in ("layer_norm1", "layer_norm2"):
                out[p + f"{ln}.weight"] = out[p + f"{ln}.bias"] = (c.width,)
            out[p + "mlp.fc1.weight"], out[p + "mlp.fc1.bias"] = (c.mlp_dim, c.width), (c.mlp_dim,)
            out[p + "mlp.fc2.weight"], out[p + "mlp.fc2.bias"] = (c.width, c.mlp_dim), (c.width,)
    return out


def _openclip_expected(cfg: CLIPConfig) -> dict[str, tuple]:
    """OpenCLIP key -> shape of every tensor `cfg` needs."""
    v, t, e = cfg.vision, cfg.text, cfg.embed_dim
    out = {
        "visual.class_embedding": (v.width,),
        "visual.conv1.weight": (v.width, 3, v.patch_size, v.patch_size),
        "visual.positional_embedding": (v.num_patches + 1, v.width),
        "visual.ln_pre.weight": (v.width,),
        "visual.ln_pre.bias": (v.width,),
        "visual.ln_post.weight": (v.width,),
        "visual.ln_post.bias": (v.width,),
        "visual.proj": (v.width, e),
        "token_embedding.weight": (t.vocab_size, t.width),
        "positional_embedding": (t.context_length, t.width),
        "ln_final.weight": (t.width,),
        "ln_final.bias": (t.width,),
        "text_projection": (t.width, e),
        "logit_scale": (),
    }
    for prefix, c in (("visual.transformer", v), ("transformer", t)):
        for i in range(c.layers):
            p = f"{prefix}.resblocks.{i}."
            out[p + "attn.in_proj_weight"], out[p + "attn.in_proj_bias"] = (3 * c.width, c.width), (3 * c.width,)
            out[p + "attn.out_proj.weight"], out[p + "attn.out_proj.bias"] = (c.width, c.width), (c.width,)
            for ln in ("ln_1", "ln_2"):
                out[p + f"{ln}.weight"] = out[p + f"{ln}.bias"] = (c.width,)
            out[p + "mlp.c_fc.weight"], out[p + "mlp.c_fc.bias"] = (c.mlp_dim, c.width), (c.mlp_dim,)
            out[p + "mlp.c_proj.weight"], out[p + "mlp.c_proj.bias"] = (c.width, c.mlp_dim), (c.width,)
    return out


def _ln(w, b):
    return {"scale": w, "bias": b}


def _dense(w, b):
    # PyTorch stores [out, in]; flax kernels are [in, out].
    return {"kernel": np.ascontiguousarray(w.T), "bias": b}


def _hf_params(ck: dict, cfg: CLIPConfig) -> dict:
    def tower(prefix, layers):
        blocks = {}
        for i in range(layers):
            p = f"{prefix}.encoder.layers.{i}."
            g = lambda name: (ck[p + name + ".weight"], ck[p + name + ".bias"])
            blocks[f"block_{i}"] = {
                "ln_1": _ln(*g("layer_norm1")),
                "attn": {n: _dense(*g(f"self_attn.{s}_proj")) for n, s in (("q", "q"), ("k", "k"), ("v", "v"), ("out", "out"))},
                "ln_2": _ln(*g("layer_norm2")),
                "fc": _dense(*g("mlp.fc1")),
                "proj": _dense(*g("mlp.fc2")),
            }
        return blocks

    vm, tm = "vision_model.", "text_model."
    return {
        "visual": {
            "patch_embed": {"kernel": np.transpose(ck[vm + "embeddings.patch_embedding.weight"], (2, 3, 1, 0))},
            "class_embedding": ck[vm + "embeddings.class_embedding"],
            "position_embedding": ck[vm + "embeddings.position_embedding.weight"],
            "ln_pre": _ln(ck[vm + "pre_layrnorm.weight"], ck[vm + "pre_layrnorm.bias"]),
            "transformer": tower("vision_model", cfg.vision.layers),
            "ln_post": _ln(ck[vm + "post_layernorm.weight"], ck[vm + "post_layernorm.bias"]),
            "projection": np.ascontiguousarray(ck["visual_projection.weight"].T),
        },
        "text": {
            "token_embedding": {"embedding": ck[tm + "embeddings.token_embedding.weight"]},
            "position_embedding": ck[tm + "embeddings.position_embedding.weight"],
            "transformer": tower("text_model", cfg.text.layers),
            "ln_final": _ln(ck[tm + "final_layer_norm.weight"], ck[tm + "final_layer_norm.bias"]),
            "projection": np.ascontiguousarray(ck["text_projection.weight"].T),
        },
        "logit_scale": ck["logit_scale"],
    }


def _openclip_params(ck: dict, cfg: CLIPConfig) -> dict:
    def tower(prefix, layers, width):
        blocks = {}
        for i in range(layers):
            p = f"{prefix}.resblocks.{i}."
            g = lambda name: (ck[p + name + ".weight"], ck[p + name + ".bias"])
            # One packed [3D, D] projection in the order q, k, v (torch.nn.MultiheadAttention).
            w, b = ck[p + "attn.in_proj_weight"], ck[p + "attn.in_proj_bias"]
            attn = {n: _dense(w[j * width : (j + 1) * width], b[j * width : (j + 1) * width]) for j, n in enumerate("qkv")}
            attn["out"] = _dense(*g("attn.out_proj"))
            blocks[f"block_{i}"] = {
                "ln_1": _ln(*g("ln_1")),
                "attn": attn,
                "ln_2": _ln(*g("ln_2")),
                "fc": _dense(*g("mlp.c_fc")),
                "proj": _dense(*g("mlp.c_proj")),
            }
        return blocks

    return {
        "visual": {
            "patch_embed": {"kernel": np.transpose(ck["visual.conv1.weight"], (2, 3, 1, 0))},
            "class_embedding": ck["visual.class_embedding"],
            "position_embedding": ck["visual.positional_embedding"],
            "ln_pre": _ln(ck["visual.ln_pre.weight"], ck["visual.ln_pre.bias"]),
            "transformer": tower("visual.transformer", cfg.vision.layers, cfg.vision.width),
            "ln_post": _ln(ck["visual.ln_post.weight"], ck["visual.ln_post.bias"]),
            "projection": ck["visual.proj"],
        },
        "text": {
            "token_embedding": {"embedding": ck["token_embedding.weight"]},
            "position_embedding": ck["positional_embedding"],
            "transformer": tower("transformer", cfg.text.layers, cfg.text.width),
            "ln_final": _ln(ck["ln_final.weight"], ck["ln_final.bias"]),
            "projection": ck["text_projection"],
        },
        "logit_scale": ck["logit_scale"],
    }


def _hf_state(params: dict, cfg: CLIPConfig) -> dict[str, np.ndarray]:
    """The inverse of `_hf_params`: our parameters under Hugging Face keys."""
    out = {}

    def tower(prefix, blocks, layers):
        for i in range(layers):
            b, p = blocks[f"block_{i}"], f"{prefix}.encoder.layers.{i}."
            named = {"layer_norm1": b["ln_1"], "layer_norm2": b["ln_2"], "mlp.fc1": b["fc"], "mlp.fc2": b["proj"]}
            named |= {f"self_attn.{n}_proj": b["attn"][n] for n in ("q", "k", "v", "out")}
            for name, leaf in named.items():
                out[p + name + ".weight"] = leaf["scale"] if "scale" in leaf else leaf["kernel"].T
                out[p + name + ".bias"] = leaf["bias"]

    v, t = params["visual"], params["text"]
    vm, tm = "vision_model.", "text_model."
    out[vm + "embeddings.patch_embedding.weight"] = np.transpose(v["patch_embed"]["kernel"], (3, 2, 0, 1))
    out[vm + "embeddings.class_embedding"] = v["class_embedding"]
    out[vm + "embeddings.position_embedding.weight"] = v["position_embedding"]
    out[vm + "pre_layrnorm.weight"], out[vm + "pre_layrnorm.bias"] = v["ln_pre"]["scale"], v["ln_pre"]["bias"]
    out[vm + "post_layernorm.weight"], out[vm + "post_layernorm.bias"] = v["ln_post"]["scale"], v["ln_post"]["bias"]
    out["visual_projection.weight"] = v["projection"].T
    out[tm + "embeddings.token_embedding.weight"] = t["token_embedding"]["embedding"]
    out[tm + "embeddings.position_embedding.weight"] = t["position_embedding"]
    out[tm + "final_layer_norm.weight"], out[tm + "final_layer_norm.bias"] = t["ln_final"]["scale"], t["ln_final"]["bias"]
    out["text_projection.weight"] = t["projection"].T
    out["logit_scale"] = params["logit_scale"]
    tower("vision_model", v["transformer"], cfg.vision.layers)
    tower("text_model", t["transformer"], cfg.text.layers)
    # np.array(order="C"), not np.ascontiguousarray, which turns 0-d logit_scale into shape (1,).
    return {k: np.array(a, np.float32, order="C") for k, a in out.items()}


def save_clip(folder: str | Path, config: CLIPConfig, params: dict, tokenizer: Tokenizer) -> Path:
    """Writes a model in the Hugging Face layout (model.safetensors, config.json, vocab.json,
    merges.txt) that `load_clip` reads back; used for the in-project stand-in model."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(_hf_state(params, config), str(folder / "model.safetensors"))
    v, t = config.vision, config.text
    hf = {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": config.embed_dim,
        "vision_config": {
            "image_size": v.image_size, "patch_size": v.patch_size, "hidden_size": v.width, "num_hidden_layers": v.layers,
            "num_attention_heads": v.heads, "intermediate_size": v.mlp_dim, "hidden_act": config.activation,
        },
        "text_config": {
            "max_position_embeddings": t.context_length, "vocab_size": t.vocab_size, "hidden_size": t.width,
            "num_hidden_layers": t.layers, "num_attention_heads": t.heads, "intermediate_size": t.mlp_dim,
            "hidden_act": config.activation, "eos_token_id": tokenizer.eos_id, "bos_token_id": tokenizer.bos_id,
        },
    }
    (folder / "config.json").write_text(json.dumps(hf, indent=1))
    tokenizer.save(folder)
    return folder


LAYOUTS = {
    "huggingface": ("vision_model.embeddings.class_embedding", _hf_expected, _hf_params),
    "openclip": ("visual.class_embedding", _openclip_expected, _openclip_params),
}


# --- configuration ------------------------------------------------------------------------


def config_from_hf_json(path: Path) -> CLIPConfig:
    """A `CLIPConfig` from a Hugging Face CLIP `config.json` (missing fields: transformers' defaults)."""
    raw = json.loads(path.read_text())
    vc, tc = raw.get("vision_config") or {}, raw.get("text_config") or {}
    vision = VisionConfig(
        image_size=vc.get("image_size", 224),
        patch_size=vc.get("patch_size", 32),
        width=vc.get("hidden_size", 768),
        layers=vc.get("num_hidden_layers", 12),
        heads=vc.get("num_attention_heads", 12),
        mlp_dim=vc.get("intermediate_size", 3072),
    )
    text = TextConfig(
        context_length=tc.get("max_position_embeddings", 77),
        vocab_size=tc.get("vocab_size", 49408),
        width=tc.get("hidden_size", 512),
        layers=tc.get("num_hidden_layers", 12),
        heads=tc.get("num_attention_heads", 8),
        mlp_dim=tc.get("intermediate_size", 2048),
    )
    acts = {vc.get("hidden_act", "quick_gelu"), tc.get("hidden_act", "quick_gelu")}
    if len(acts) != 1 or not acts <= {"quick_gelu", "gelu"}:
        raise CheckpointError(f"{path}: hidden_act {sorted(acts)} is not supported (one of quick_gelu, gelu for both towers)")
    return CLIPConfig(embed_dim=raw.get("projection_dim", 512), vision=vision, text=text, activation=acts.pop())


def config_from_openclip_json(path: Path) -> CLIPConfig:
    """A `CLIPConfig` from an OpenCLIP `open_clip_config.json` (missing fields: OpenCLIP's defaults)."""
    raw = json.loads(path.read_text())
    model = raw.get("model_cfg", raw)
    vc, tc = model.get("vision_cfg") or {}, model.get("text_cfg") or {}
    unsupported = [k for k in ("timm_model_name", "hf_model_name", "ls_init_value", "attentional_pool") if vc.get(k) or tc.get(k)]
    if unsupported:
        raise CheckpointError(f"{path}: OpenCLIP options {unsupported} are not supported by this CLIP implementation")
    v_width, t_width = vc.get("width", 768), tc.get("width", 512)
    vision = VisionConfig(
        image_size=vc.get("image_size", 224),
        patch_size=vc.get("patch_size", 16),
        width=v_width,
        layers=vc.get("layers", 12),
        heads=v_width // vc.get("head_width", 64),
        mlp_dim=int(v_width * vc.get("mlp_ratio", 4.0)),
    )
    text = TextConfig(
        context_length=tc.get("context_length", 77),
        vocab_size=tc.get("vocab_size", 49408),
        width=t_width,
        layers=tc.get("layers", 12),
        heads=tc.get("heads", 8),
        mlp_dim=int(t_width * tc.get("mlp_ratio", 4.0)),
    )
    act = "quick_gelu" if model.get("quick_gelu", False) else "gelu"
    return CLIPConfig(embed_dim=model.get("embed_dim", 512), vision=vision, text=text, activation=act)


def _match_named_config(shapes: dict, layout: str) -> CLIPConfig | None:
    for cfg in CONFIGS.values():
        expected = LAYOUTS[layout][1](cfg)
        if all(shapes.get(k) == s for k, s in expected.items()) and not _unexpected(shapes, expected):
            return cfg
    return None


def _unexpected(shapes: dict, expected: dict) -> list[str]:
    return sorted(k for k in shapes if k not in expected and not k.endswith(IGNORED_SUFFIXES))


# --- loading ------------------------------------------------------------------------------


def _weights_file(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"CLIP checkpoint {path} does not exist. {DOWNLOAD_HINT}")
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    found = sorted(path.glob("*.safetensors"))
    if len(found) == 1:
        return found[0]
    listing = ", ".join(p.name for p in found) or "none"
    raise CheckpointError(
        f"no CLIP weights in {path}: expected {' or '.join(WEIGHT_FILES)} (safetensors found: {listing}). "
        f"PyTorch .bin/.pt files are not read. {DOWNLOAD_HINT}"
    )


def _describe(keys: list[str], expected: dict, shapes: dict, limit: int = 8) -> str:
    lines = [f"  {k}: expected {expected[k]}, found {shapes[k] if k in shapes else 'missing'}" for k in keys[:limit]]
    more = f"\n  ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return "\n".join(lines) + more


def load_clip(path: str | Path, config: CLIPConfig | str | None = None, context_length: int | None = None) -> LoadedCLIP:
    """Reads CLIP weights and tokenizer from a local folder (or a weights file inside one).

    path: folder with the `.safetensors` weights and the tokenizer files (`vocab.json` +
      `merges.txt`, or `bpe_simple_vocab_16e6.txt.gz`).
    config: the model's shape; by default from `config.json` beside the weights or inferred
      by matching the checkpoint against `clip_model.CONFIGS`.
    Returns the config (its text `eos_token_id` set from the tokenizer), float32 NumPy
    parameters for `CLIP(config)`, and the tokenizer.
    """
    from safetensors.numpy import load_file  # optional at import time; a declared dependency

    weights = _weights_file(Path(path))
    try:
        ck = load_file(str(weights))
    except Exception as err:  # corrupt or not safetensors
        raise CheckpointError(f"cannot read {weights} as safetensors ({err}). {DOWNLOAD_HINT}") from err
    shapes = {k: tuple(a.shape) for k, a in ck.items()}
    layout = next((name for name, (marker, _, _) in LAYOUTS.items() if marker in shapes), None)
    if layout is None:
        markers = " or ".join(m for m, _, _ in LAYOUTS.values())
        raise CheckpointError(
            f"{weights} is not a CLIP checkpoint in a known layout: it has no {markers} "
            f"(first keys: {', '.join(sorted(shapes)[:5])}). {DOWNLOAD_HINT}"
        )
    _, expected_of, params_of = LAYOUTS[layout]

    if isinstance(config, str):
        if config not in CONFIGS:
            raise CheckpointError(f"unknown CLIP config {config!r}; valid: {', '.join(CONFIGS)}")
        config = CONFIGS[config]
    if config is None and (weights.parent / "config.json").is_file():
        config = config_from_hf_json(weights.parent / "config.json")
    if config is None and (weights.parent / "open_clip_config.json").is_file():
        config = config_from_openclip_json(weights.parent / "open_clip_config.json")
    if config is None:
        config = _match_named_config(shapes, layout)
        if config is None:
            raise CheckpointError(
                f"{weights}: its shapes match none of the named CLIP configs ({', '.join(CONFIGS)}) and there is "
                f"no config.json / open_clip_config.json beside it; pass config=CLIPConfig(...) describing the model"
            )

    tokenizer = Tokenizer.from_folder(weights.parent, context_length or config.text.context_length)
    config = replace(config, text=replace(config.text, eos_token_id=tokenizer.eos_id))
    config.validate()
    expected = expected_of(config)
    wrong = [k for k in expected if shapes.get(k) != expected[k]]
    if wrong:
        raise CheckpointError(
            f"{weights} ({layout} layout) does not match the CLIP config "
            f"(vision {config.vision.width}x{config.vision.layers} patch {config.vision.patch_size}, "
            f"text {config.text.width}x{config.text.layers}, embed {config.embed_dim}); "
            f"{len(wrong)} of {len(expected)} tensors are missing or mis-shaped:\n{_describe(wrong, expected, shapes)}\n"
            f"Pass the config matching these weights, or fetch matching ones. {DOWNLOAD_HINT}"
        )
    extra = _unexpected(shapes, expected)
    if extra:
        raise CheckpointError(
            f"{weights} has {len(extra)} tensors this CLIP architecture does not use (e.g. {', '.join(extra[:5])}); "
            f"it is probably a different model family (layer scale, ResNet tower, ...). {DOWNLOAD_HINT}"
        )
    if len(tokenizer.encoder) != config.text.vocab_size:
        raise CheckpointError(
            f"tokenizer in {weights.parent} has {len(tokenizer.encoder)} tokens but the text tower embeds "
            f"{config.text.vocab_size}: the tokenizer files belong to another model. {DOWNLOAD_HINT}"
        )
    params = params_of({k: np.asarray(a, np.float32) for k, a in ck.items()}, config)
    return LoadedCLIP(config, params, tokenizer, layout, weights)
