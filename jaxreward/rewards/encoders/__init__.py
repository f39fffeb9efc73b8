"""Pretrained-encoder architectures and their offline loaders (CLIP: `clip_model`,
`clip_checkpoint`, `tokenizer`, `preprocess`). Weights only ever come from a local path."""

from jaxreward.rewards.encoders.clip_checkpoint import CheckpointError, LoadedCLIP, load_clip
from jaxreward.rewards.encoders.clip_model import CLIP, CONFIGS, CLIPConfig, TextConfig, VisionConfig, VisionTower, init_params, unit
from jaxreward.rewards.encoders.preprocess import preprocess
from jaxreward.rewards.encoders.tokenizer import Tokenizer

__all__ = [
    "CLIP", "CONFIGS", "CLIPConfig", "CheckpointError", "LoadedCLIP", "TextConfig", "Tokenizer",
    "VisionConfig", "VisionTower", "init_params", "load_clip", "preprocess", "unit",
]
