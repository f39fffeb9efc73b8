"""VLM-RM reward quality without RL: EPIC distance of the CLIP reward to gold labels vs α.

Rocamonde et al., "Vision-Language Models are Zero-Shot Reward Models for RL" (ICLR 2024),
App. A / Fig. 4 protocol: over a set of rendered states with binary labels of the task
predicate, D = √(1 − ρ)/√2 with ρ the Pearson correlation of reward and label; lower is a
better reward model. Here: CartPole, predicate "pole upright" (|θ| < 0.2 rad), the paper's
prompts (goal "pole vertically upright on top of the cart", baseline "pole and cart"), α swept
in one vmapped program.

    python -m experiments.vlm_rm --clip-checkpoint /path/to/clip-folder [--scale paper]
    python -m experiments.vlm_rm --standin       # the in-project STAND-IN, not zero-shot

Without a checkpoint it stops with instructions (nothing is downloaded). With `--standin` it
uses tests/data/vlm_standin_cartpole, a model trained on captions made from the true angle:
its numbers are a pipeline check, never a zero-shot result, and the outputs say so.
PPO on the VLM reward (CartPole without termination, fraction of the gold-trained return):
`experiments/vlm_rm_ppo.py`. Not yet here: MountainCar and humanoid poses, the encoder sweep.

Writes results/vlm_rm/epic_vs_alpha.{csv,png} and command.txt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxreward.rewards.encoders import CLIP, load_clip
from jaxreward.rewards.vlm_reward import epic_distance, goal_baseline_reward, image_embeddings, prompt_embeddings
from jaxreward.rewards.vlm_standin import BASELINE_PROMPT, GOAL_PROMPT, render_states

STANDIN = Path(__file__).resolve().parents[1] / "tests" / "data" / "vlm_standin_cartpole"
SCALES = {"smoke": 256, "paper": 4096}
UPRIGHT = 0.2
INSTRUCTIONS = """experiments.vlm_rm needs a CLIP checkpoint on local disk (nothing is downloaded at run time).
Download e.g. model.safetensors, config.json, vocab.json and merges.txt of the Hugging Face
repository openai/clip-vit-base-patch32 (or laion/CLIP-ViT-bigG-14-laion2B-39B-b160k, the
paper's best encoder) into a folder and pass --clip-checkpoint FOLDER.
For a pipeline check with the in-project stand-in (NOT zero-shot) pass --standin."""


def labelled_states(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """CartPole states [n, 4] with angles spread over the circle (a third near upright) and
    labels [n] of the predicate |θ| < UPRIGHT."""
    rng = np.random.default_rng(seed)
    q = np.zeros((n, 4), np.float32)
    q[:, 0] = rng.uniform(-2.0, 2.0, n)
    q[:, 2] = np.where(rng.uniform(size=n) < 1 / 3, rng.uniform(-0.3, 0.3, n), rng.uniform(-np.pi, np.pi, n))
    return q, (np.abs(q[:, 2]) < UPRIGHT).astype(np.float32)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip-checkpoint", type=Path, default=None)
    parser.add_argument("--standin", action="store_true", help="use the in-project stand-in model (not zero-shot)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("results/vlm_rm"))
    args = parser.parse_args(argv)
    if args.clip_checkpoint is None and not args.standin:
        sys.exit(INSTRUCTIONS)
    folder = STANDIN if args.standin else args.clip_checkpoint
    label = "STAND-IN model (not CLIP, not zero-shot)" if args.standin else f"CLIP {folder}"

    clip = load_clip(folder)
    model = CLIP(clip.config)
    goal = prompt_embeddings(model, clip.params, clip.tokenizer, [GOAL_PROMPT])
    baseline = prompt_embeddings(model, clip.params, clip.tokenizer, [BASELINE_PROMPT])
    q, labels = labelled_states(SCALES[args.scale], args.seed)
    # Rendered at the model's resolution; the paper renders 400x600 and resizes.
    size = clip.config.vision.image_size
    frames = render_states(q, chunk=min(256, len(q)), size=size)
    alphas = jnp.linspace(0.0, 1.0, 11)

    @jax.jit
    def epic_per_alpha(params, frames):
        embeds = image_embeddings(model, params, frames, batch_size=min(64, frames.shape[0]))
        rewards = jax.vmap(goal_baseline_reward, in_axes=(None, None, None, 0))(embeds, goal, baseline, alphas)
        return jax.vmap(epic_distance, in_axes=(0, None))(rewards, jnp.asarray(labels))

    epic = np.asarray(epic_per_alpha(clip.params, jnp.asarray(frames)))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = ["alpha,epic_distance"] + [f"{a:.1f},{d:.4f}" for a, d in zip(np.asarray(alphas), epic)]
    (args.out / "epic_vs_alpha.csv").write_text(f"# {label}; {len(q)} CartPole states; predicate |theta|<{UPRIGHT}\n" + "\n".join(rows) + "\n")
    (args.out / "command.txt").write_text("python -m experiments.vlm_rm " + " ".join(sys.argv[1:] if argv is None else argv) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(np.asarray(alphas), epic, marker="o")
    ax.set_xlabel("α (goal-baseline regularisation)")
    ax.set_ylabel("EPIC distance to labels (lower is better)")
    ax.set_title(f"CartPole upright — {label}", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "epic_vs_alpha.png", dpi=120)
    print("\n".join(rows))
    print(f"wrote {args.out}/epic_vs_alpha.csv, .png ({label})")


if __name__ == "__main__":
    main()
