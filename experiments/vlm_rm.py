"""VLM-RM reward quality without RL: EPIC distance of the CLIP reward to gold labels vs α.

Rocamonde et al., "Vision-Language Models are Zero-Shot Reward Models for RL" (ICLR 2024),
App. A / Fig. 4 protocol: over a set of rendered states with binary labels of the task
predicate, D = √(1 − ρ)/√2 with ρ the Pearson correlation of reward and label; lower is a
better reward model. α (goal-baseline regularisation) is swept in one vmapped program per
encoder; several `--clip-checkpoint` folders make the encoder sweep (one line each).

Tasks (`--task`), each with the paper's prompts and a predicate computed from the state:

- `cartpole` — goal "pole vertically upright on top of the cart", baseline "pole and cart";
  label |θ| < 0.2 rad. States: cart anywhere on the track, a third of the poles near upright.
- `mountain_car` — goal "a car at the peak of the mountain, next to the yellow flag",
  baseline "a car in the mountain"; label x ≥ 0.45 (the env's flag). States: positions over
  the whole track, a third of them past 0.3.
- `humanoid_kneeling` — goal "a humanoid robot kneeling", baseline "a humanoid robot"; label
  "both knees (the shin bodies' origins) lower than 0.25 m while the torso is above 0.9 m",
  a predicate of ours (the paper labelled its humanoid frames by hand). States: the reset pose
  bent towards a kneel by a random fraction (a fifth standing, a fifth fully kneeling), joint
  noise, random arm poses, lowered onto the floor; fixed camera, the renderer's checkered
  floor and sky.
- `humanoid_arms_raised` — goal "a humanoid robot standing up, with both arms raised",
  baseline "a humanoid robot"; label "both hands above the head and the head above 1.3 m"
  (ours). States: as above, 60% standing, arms near a raised pose 40% of the time.
  (The paper's lotus and splits poses are not here: they need pose generators of their own.)

    python -m experiments.vlm_rm --clip-checkpoint /path/to/clip-folder [--task mountain_car] [--scale paper]
    python -m experiments.vlm_rm --clip-checkpoint A --clip-checkpoint B ...   # encoder sweep
    python -m experiments.vlm_rm --standin       # the in-project STAND-IN (cartpole only), not zero-shot

Without a checkpoint it stops with instructions (nothing is downloaded). With `--standin` it
uses tests/data/vlm_standin_cartpole, a model trained on captions made from the true angle:
its numbers are a pipeline check, never a zero-shot result, and the outputs say so.
PPO on the VLM reward (CartPole without termination, fraction of the gold-trained return):
`experiments/vlm_rm_ppo.py`. Frames are rendered at each model's input resolution (the
paper renders 400x600 and resizes).

Writes results/vlm_rm/epic_vs_alpha.{csv,png} (task, encoder, α, EPIC distance) and command.txt.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxreward.rewards.encoders import CLIP, load_clip
from jaxreward.rewards.vlm_reward import epic_distance, goal_baseline_reward, image_embeddings, prompt_embeddings
from jaxreward.rewards.vlm_standin import BASELINE_PROMPT, GOAL_PROMPT

STANDIN = Path(__file__).resolve().parents[1] / "tests" / "data" / "vlm_standin_cartpole"
SCALES = {"smoke": 256, "paper": 4096}
UPRIGHT = 0.2
KNEE_HEIGHT, TORSO_HEIGHT = 0.25, 0.9
STANDING_HEAD = 1.3
INSTRUCTIONS = """experiments.vlm_rm needs a CLIP checkpoint on local disk (nothing is downloaded at run time).
Download e.g. model.safetensors, config.json, vocab.json and merges.txt of the Hugging Face
repository openai/clip-vit-base-patch32 (or laion/CLIP-ViT-bigG-14-laion2B-39B-b160k, the
paper's best encoder) into a folder and pass --clip-checkpoint FOLDER (repeat it for an
encoder sweep). For a pipeline check with the in-project stand-in (NOT zero-shot, CartPole
only) pass --standin."""


@dataclass(frozen=True)
class Task:
    env: str
    goal: str
    baseline: str
    predicate: str
    #: (n, seed) -> (states, labels [n] float32 in {0, 1}); states as `frames` takes them.
    labelled: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    #: (states, size) -> frames uint8 [n, size, size, 3].
    frames: Callable[[np.ndarray, int], np.ndarray]


def labelled_states(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """CartPole states [n, 4] with angles spread over the circle (a third near upright) and
    labels [n] of the predicate |θ| < UPRIGHT."""
    rng = np.random.default_rng(seed)
    q = np.zeros((n, 4), np.float32)
    q[:, 0] = rng.uniform(-2.0, 2.0, n)
    q[:, 2] = np.where(rng.uniform(size=n) < 1 / 3, rng.uniform(-0.3, 0.3, n), rng.uniform(-np.pi, np.pi, n))
    return q, (np.abs(q[:, 2]) < UPRIGHT).astype(np.float32)


def mountain_car_states(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MountainCar states [n, 2] (x, v = 0), a third past x = 0.3, and labels x ≥ 0.45."""
    from envs.exploration.mountain_car import GOAL_POSITION, MAX_POSITION, MIN_POSITION

    rng = np.random.default_rng(seed)
    q = np.zeros((n, 2), np.float32)
    q[:, 0] = np.where(rng.uniform(size=n) < 1 / 3, rng.uniform(0.3, MAX_POSITION, n), rng.uniform(MIN_POSITION, MAX_POSITION, n))
    return q, (q[:, 0] >= GOAL_POSITION).astype(np.float32)


def render_vector_states(env_name: str, q: np.ndarray, size: int, chunk: int = 256) -> np.ndarray:
    """Frames of a pure-JAX env whose pipeline state is the vector q [n, k] (its renderer)."""
    import envs

    env = envs.make(env_name)
    template = env.reset(jax.random.PRNGKey(0))
    draw = jax.jit(jax.vmap(lambda s: env.render(template.replace(pipeline_state=s, obs=s), height=size, width=size)))
    return _chunked(draw, q, chunk)


def _chunked(draw, x: np.ndarray, chunk: int) -> np.ndarray:
    chunk = min(chunk, len(x))
    pad = (-len(x)) % chunk
    xs = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]).reshape((-1, chunk) + x.shape[1:])
    return np.concatenate([np.asarray(draw(jnp.asarray(c))) for c in xs])[: len(x)]


#: Shoulder and elbow angles (rad) that put both hands highest above the head (a grid search).
RAISE = {"right_shoulder1": -1.48, "right_shoulder2": 0.41, "right_elbow": -1.57,
         "left_shoulder1": 1.48, "left_shoulder2": -0.41, "left_elbow": -1.57}


def humanoid_states(n: int, seed: int, pose: str = "kneeling") -> tuple[np.ndarray, np.ndarray]:
    """Humanoid poses qpos [n, 24] on the floor and labels of `pose`, "kneeling" or
    "arms_raised" (see the module docstring). Kinematics on the host with MuJoCo (no
    dynamics: poses, not motion)."""
    import mujoco

    import envs
    from envs.rendering.gallery import KNEEL

    env = envs.make("humanoid")
    model = env.unwrapped.mj_model
    rest = model.qpos0.copy()  # standing
    data = mujoco.MjData(model)
    joint = lambda name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    body = lambda name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    hinges = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
    arms = [j for j in hinges if "shoulder" in model.joint(j).name or "elbow" in model.joint(j).name]
    legs = [g for g in range(model.ngeom) if model.geom_bodyid[g] > 1 and model.geom_type[g] != mujoco.mjtGeom.mjGEOM_PLANE]
    geom = lambda name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
    knees, torso = (body("right_shin"), body("left_shin")), body("torso")
    hands, head = (geom("right_hand"), geom("left_hand")), geom("head")
    if pose not in ("kneeling", "arms_raised"):
        raise ValueError(f"pose must be 'kneeling' or 'arms_raised', got {pose!r}")
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=n)
    if pose == "kneeling":  # a fifth standing, a fifth fully kneeling, the rest in between
        fraction = np.where(u < 0.2, 0.0, np.where(u < 0.4, 1.0, rng.uniform(size=n)))
    else:  # 60% standing; arms near the raised pose 40% of the time
        fraction = np.where(u < 0.6, 0.0, rng.uniform(size=n))
    raised = (rng.uniform(size=n) < 0.4) if pose == "arms_raised" else np.zeros(n, bool)
    qs, labels = np.zeros((n, model.nq), np.float32), np.zeros(n, np.float32)
    for i in range(n):
        q = rest.copy()
        for name, angle in KNEEL.items():
            q[model.jnt_qposadr[joint(name)]] = fraction[i] * angle
        for j in hinges:
            low, high = model.jnt_range[j]
            adr = model.jnt_qposadr[j]
            if j in arms:
                name = model.joint(j).name
                value = RAISE[name] + rng.normal(0.0, 0.2) if raised[i] else rng.uniform(low, high)
            else:
                value = q[adr] + rng.normal(0.0, 0.1)
            q[adr] = np.clip(value, low, high)
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        q[2] -= min(data.geom_xpos[g][2] - model.geom_rbound[g] for g in legs) - 0.02  # onto the floor
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        if pose == "kneeling":
            labels[i] = float(max(data.xpos[k][2] for k in knees) < KNEE_HEIGHT and data.xpos[torso][2] > TORSO_HEIGHT)
        else:
            head_z = data.geom_xpos[head][2]
            labels[i] = float(min(data.geom_xpos[h][2] for h in hands) > head_z and head_z > STANDING_HEAD)
        qs[i] = q
    return qs, labels


def render_humanoid(qpos: np.ndarray, size: int, chunk: int = 64) -> np.ndarray:
    """Frames of humanoid poses qpos [n, nq] from the env's default (fixed) camera."""
    from mujoco import mjx

    import envs

    env = envs.make("humanoid")
    template = env.reset(jax.random.PRNGKey(0))
    model = env.unwrapped.mjx_model

    def draw(q):
        pipeline = mjx.kinematics(model, template.pipeline_state.replace(qpos=q))
        return env.render(template.replace(pipeline_state=pipeline), height=size, width=size)

    return _chunked(jax.jit(jax.vmap(draw)), qpos, chunk)


TASKS = {
    "cartpole": Task("cartpole", GOAL_PROMPT, BASELINE_PROMPT, f"|theta| < {UPRIGHT}", labelled_states,
                     lambda q, size: render_vector_states("cartpole", q, size)),
    "mountain_car": Task("mountain_car", "a car at the peak of the mountain, next to the yellow flag", "a car in the mountain",
                         "x >= 0.45", mountain_car_states, lambda q, size: render_vector_states("mountain_car", q, size)),
    "humanoid_kneeling": Task("humanoid", "a humanoid robot kneeling", "a humanoid robot",
                              f"both knees below {KNEE_HEIGHT} m, torso above {TORSO_HEIGHT} m", humanoid_states,
                              render_humanoid),
    "humanoid_arms_raised": Task("humanoid", "a humanoid robot standing up, with both arms raised", "a humanoid robot",
                                 f"both hands above the head, head above {STANDING_HEAD} m",
                                 lambda n, seed: humanoid_states(n, seed, "arms_raised"), render_humanoid),
}


def epic_vs_alpha(folder: Path, task: Task, states: np.ndarray, labels: np.ndarray, alphas: jax.Array) -> np.ndarray:
    """[len(alphas)] EPIC distance to the labels of the goal-baseline reward of the CLIP in
    `folder`, on `states` rendered at its input resolution."""
    clip = load_clip(folder)
    model = CLIP(clip.config)
    goal = prompt_embeddings(model, clip.params, clip.tokenizer, [task.goal])
    baseline = prompt_embeddings(model, clip.params, clip.tokenizer, [task.baseline])
    frames = task.frames(states, clip.config.vision.image_size)

    @jax.jit
    def epic_per_alpha(params, frames):
        embeds = image_embeddings(model, params, frames, batch_size=min(64, frames.shape[0]))
        rewards = jax.vmap(goal_baseline_reward, in_axes=(None, None, None, 0))(embeds, goal, baseline, alphas)
        return jax.vmap(epic_distance, in_axes=(0, None))(rewards, jnp.asarray(labels))

    return np.asarray(epic_per_alpha(clip.params, jnp.asarray(frames)))


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip-checkpoint", type=Path, action="append", default=[],
                        help="local CLIP folder; repeat for an encoder sweep")
    parser.add_argument("--standin", action="store_true", help="use the in-project stand-in model (not zero-shot)")
    parser.add_argument("--task", choices=sorted(TASKS), default="cartpole")
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke")
    parser.add_argument("--states", type=int, default=None, help="labelled states (default: the scale's, 256 or 4096)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("results/vlm_rm"))
    args = parser.parse_args(argv)
    if args.states is not None and args.states < 4:
        parser.error(f"--states must be at least 4, got {args.states}")
    if not args.clip_checkpoint and not args.standin:
        sys.exit(INSTRUCTIONS)
    if args.standin and args.task != "cartpole":
        parser.error(f"--standin: the stand-in was trained on CartPole frames only, not {args.task}")
    encoders = [(STANDIN, "STAND-IN model (not CLIP, not zero-shot)")] if args.standin else []
    encoders += [(folder, f"CLIP {folder}") for folder in args.clip_checkpoint]
    for folder, _ in encoders:  # every checkpoint is checked before any rendering
        load_clip(folder)

    task = TASKS[args.task]
    states, labels = task.labelled(args.states or SCALES[args.scale], args.seed)
    print(f"{args.task}: {len(labels)} states, {int(labels.sum())} labelled '{task.predicate}'", flush=True)
    alphas = jnp.linspace(0.0, 1.0, 11)
    rows = []
    for folder, label in encoders:
        epic = epic_vs_alpha(folder, task, states, labels, alphas)
        rows += [dict(task=args.task, encoder=label, alpha=round(float(a), 2), epic_distance=float(d))
                 for a, d in zip(np.asarray(alphas), epic)]
        print(f"{label}: EPIC distance {epic[0]:.4f} at alpha 0, {epic.min():.4f} at best alpha "
              f"{float(alphas[int(epic.argmin())]):.1f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    header = (f"# task {args.task}: {len(labels)} states ({int(labels.sum())} positive), predicate {task.predicate}; "
              f"goal '{task.goal}', baseline '{task.baseline}'\n")
    with open(args.out / "epic_vs_alpha.csv", "w", newline="") as f:
        f.write(header)
        writer = csv.DictWriter(f, fieldnames=["task", "encoder", "alpha", "epic_distance"])
        writer.writeheader()
        writer.writerows(dict(r, epic_distance=f"{r['epic_distance']:.4f}") for r in rows)
    (args.out / "command.txt").write_text("python -m experiments.vlm_rm " + " ".join(sys.argv[1:] if argv is None else argv) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for _, label in encoders:
        mine = [r for r in rows if r["encoder"] == label]
        ax.plot([r["alpha"] for r in mine], [r["epic_distance"] for r in mine], marker="o", label=label)
    ax.set_xlabel("α (goal-baseline regularisation)")
    ax.set_ylabel("EPIC distance to labels (lower is better)")
    ax.set_title(f"{args.task}: '{task.goal}'", fontsize=8)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(args.out / "epic_vs_alpha.png", dpi=120)
    plt.close(fig)
    print(f"wrote {args.out}/epic_vs_alpha.csv, .png")
    return rows


if __name__ == "__main__":
    main()
