"""Reward distances (EPIC, DARD, STARC), the tabular toolkit, reward transforms, eval-reward."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward import tabular
from jaxreward.evaluation import distances

S, A, GAMMA = 4, 3, 0.9


@pytest.fixture(scope="module")
def world():
    """One random MDP, two rewards, a shaped-and-scaled copy, and every quantity the tests
    check, computed in one compiled program (compiling is most of the cost on a CPU)."""
    # Random draws on the host: JAX's samplers take seconds each to compile on a CPU.
    rng = np.random.default_rng(0)
    mdp = jax.tree.map(lambda x: np.asarray(x)[0], tabular.random_mdps(rng, 1, S, A, GAMMA))
    draws = [x.astype(np.float32) for x in (rng.normal(size=(S, A, S)), rng.normal(size=(S, A, S)),
                                            3.0 * rng.normal(size=S), rng.normal(size=(S, A, S)))]
    return jax.tree.map(np.asarray, jax.jit(_world)(mdp, *draws))


def _world(mdp, r1, r2, phi, noise):
    shaped = 2.5 * (r1 + GAMMA * phi[None, None, :] - phi[:, None, None])
    # Moving reward between successors of the same (s, a) changes no policy's return.
    redistributed = r1 + noise - (mdp.transition * noise).sum(-1, keepdims=True)
    dyn = distances.dynamics_coverage(mdp)
    q = tabular.value_iteration(mdp, r1, iterations=400)
    soft = tabular.softmax_policy(q, 0.7)
    return dict(
        transition=mdp.transition, r1=r1, r2=r2,
        epic_canonical=distances.epic_canonical(r1, GAMMA),
        epic_r1_r2=distances.epic(r1, r2, GAMMA), epic_same=distances.epic(r1, r1, GAMMA),
        epic_shaped=distances.epic(r1, shaped, GAMMA), epic_negated=distances.epic(r1, -r1, GAMMA),
        epic_shaped_dynamics=distances.epic(r1, shaped, GAMMA, coverage=dyn), dynamics_coverage=dyn,
        dard_canonical=distances.dard_canonical(r1, mdp), dard_r1_r2=distances.dard(r1, r2, mdp),
        dard_same=distances.dard(r1, r1, mdp), dard_shaped=distances.dard(r1, shaped, mdp),
        starc_shaped=distances.starc(r1, shaped, mdp), starc_redistributed=distances.starc(r1, redistributed, mdp),
        starc_r1_r2=distances.starc(r1, r2, mdp), starc_negated=distances.starc(r1, -r1, mdp),
        dard_recipe_redistributed=_normalised_l2(distances.dard_canonical(r1, mdp),
                                                 distances.dard_canonical(redistributed, mdp), dyn),
        q=q, v_greedy=tabular.policy_evaluation(mdp, r1, tabular.greedy_policy(q)),
        occupancy=tabular.occupancy(mdp, soft), expected_reward=tabular.expected_reward(mdp, r1),
        return_soft=tabular.policy_return(mdp, r1, soft), regret_soft=tabular.regret(mdp, r1, soft),
    )


def _normalised_l2(c1, c2, w):
    """The STARC recipe (normalise by the w-weighted L2 norm, then L2 distance) applied to
    any canonical rewards: with DARD's it is the exact form of `sampled`'s "starc"."""
    def unit(c):
        return c / jnp.sqrt((w * c * c).sum())
    return jnp.sqrt((w * (unit(c1) - unit(c2)) ** 2).sum())


# ---- brute force, loop by loop, in NumPy ---------------------------------------------------
def _pearson_distance(x, y, w):
    x, y, w = np.ravel(x), np.ravel(y), np.ravel(w) / np.sum(w)
    mx, my = np.sum(w * x), np.sum(w * y)
    rho = np.sum(w * (x - mx) * (y - my)) / np.sqrt(np.sum(w * (x - mx) ** 2) * np.sum(w * (y - my) ** 2))
    return np.sqrt((1 - rho) / 2)


def _epic_brute(r, gamma):
    r = np.asarray(r, np.float64)
    n_s, n_a, _ = r.shape
    ps, pa = np.full(n_s, 1 / n_s), np.full(n_a, 1 / n_a)
    c = np.zeros_like(r)
    for s, a, s2 in itertools.product(range(n_s), range(n_a), range(n_s)):
        e = 0.0
        for x, b, y in itertools.product(range(n_s), range(n_a), range(n_s)):  # S, A, S'
            e += ps[x] * pa[b] * ps[y] * (gamma * r[s2, b, y] - r[s, b, y] - gamma * r[x, b, y])
        c[s, a, s2] = r[s, a, s2] + e
    return c


def _dard_brute(r, t, gamma):
    r, t = np.asarray(r, np.float64), np.asarray(t, np.float64)
    n_s, n_a, _ = r.shape
    pa = np.full(n_a, 1 / n_a)
    c = np.zeros_like(r)
    for s, a, s2 in itertools.product(range(n_s), range(n_a), range(n_s)):
        e = 0.0
        for b in range(n_a):
            for y in range(n_s):
                e += pa[b] * t[s2, b, y] * gamma * r[s2, b, y]  # γR(s', A, S''), S'' ~ T(s', A)
                e -= pa[b] * t[s, b, y] * r[s, b, y]  # R(s, A, S'), S' ~ T(s, A)
        for b1, b2, b3 in itertools.product(range(n_a), repeat=3):  # independent actions
            for u, v in itertools.product(range(n_s), repeat=2):
                e -= gamma * pa[b1] * pa[b2] * pa[b3] * t[s, b1, u] * t[s2, b3, v] * r[u, b2, v]
        c[s, a, s2] = r[s, a, s2] + e
    return c


def test_epic_matches_brute_force_and_is_invariant(world):
    w = world
    brute1 = _epic_brute(w["r1"], GAMMA)
    np.testing.assert_allclose(w["epic_canonical"], brute1, atol=1e-5)
    expected = _pearson_distance(brute1, _epic_brute(w["r2"], GAMMA), np.ones((S, A, S)))
    assert float(w["epic_r1_r2"]) == pytest.approx(expected, abs=1e-5)
    assert expected > 0.2  # independent random rewards are far apart
    assert w["epic_same"] < 1e-3
    assert w["epic_shaped"] < 1e-3
    assert float(w["epic_negated"]) == pytest.approx(1.0, abs=1e-5)
    # Invariance holds under any coverage distribution, e.g. transitions that can happen.
    assert w["epic_shaped_dynamics"] < 1e-3


def test_dard_matches_brute_force_and_is_invariant(world):
    w = world
    brute1 = _dard_brute(w["r1"], w["transition"], GAMMA)
    np.testing.assert_allclose(w["dard_canonical"], brute1, atol=1e-5)
    expected = _pearson_distance(brute1, _dard_brute(w["r2"], w["transition"], GAMMA), w["dynamics_coverage"])
    assert float(w["dard_r1_r2"]) == pytest.approx(expected, abs=1e-5)
    assert w["dard_same"] < 1e-3
    assert w["dard_shaped"] < 1e-3


def test_starc_is_zero_exactly_on_policy_equivalent_rewards(world):
    w = world
    assert w["starc_shaped"] < 1e-4
    assert w["starc_redistributed"] < 1e-4
    assert w["starc_r1_r2"] > 0.2
    assert float(w["starc_negated"]) == pytest.approx(2.0, abs=1e-4)
    # The paper's canonicalisations must also remove S'-redistribution; DARD's does not (it
    # keeps R(s, a, s')), so the same recipe on DARD's canonical rewards — what the sampled
    # "starc" computes — separates two rewards that order every policy alike.
    assert w["dard_recipe_redistributed"] > 0.05


def test_worst_case_regret_lies_between_the_starc_bounds_on_random_mdps():
    """Soundness and completeness with explicit constants: the exact worst-case regret (over
    all pairs of policies R₂ orders one way) lies between the two bounds, on 64 random MDPs
    with rewards from near copies to unrelated ones, plus contextual bandits where the lower
    bound is nearly attained; the regret also equals its LP dual, computed independently."""
    n, rng = 64, np.random.default_rng(1)
    S_, A_, gamma = 4, 3, 0.8
    mdps = jax.tree.map(np.array, tabular.random_mdps(rng, n + 4, S_, A_, gamma))  # writable copies
    r2 = rng.normal(size=(n + 4, S_, A_, S_))
    r1 = r2 + rng.uniform(0.0, 2.0, (n + 4, 1, 1, 1)) * rng.normal(size=r2.shape)  # distances from ~0 to large
    # Four contextual bandits (next state independent of the action): R₁ pays (1, 1, −2) for
    # the actions of the least-visited state only, R₂ = −R₁ — the lower bound's worst case.
    for k in range(n, n + 4):
        mdps.transition[k] = mdps.transition[k][:, :1, :]
        visits = np.linalg.solve((np.eye(S_) - gamma * mdps.transition[k][:, 0, :]).T, mdps.initial[k])
        r1[k] = 0.0
        r1[k, visits.argmin()] = np.array([1.0, 1.0, -2.0])[:, None]
        r2[k] = -r1[k]
    policies = jax.nn.one_hot(np.array(list(itertools.product(range(A_), repeat=S_))), A_)

    def one(mdp, r1, r2):
        lower, upper = distances.starc_regret_bounds(r1, r2, mdp)
        returns = [jax.vmap(lambda p: tabular.policy_return(mdp, r, p))(policies) for r in (r1, r2)]
        return distances.worst_case_regret(r1, r2, mdp), lower, upper, distances.starc(r1, r2, mdp), *returns

    args = (mdps, r1.astype(np.float32), r2.astype(np.float32))
    regret, lower, upper, d, j1, j2 = map(np.asarray, jax.jit(jax.vmap(one))(*args))
    tol = 1e-4 * (1.0 + np.abs(j1).max(-1))
    assert np.all(regret >= 0.0)
    assert np.all(lower <= regret + tol), (regret / lower).min()
    assert np.all(regret <= upper + tol), (upper / regret).min()
    assert d[:n].min() < 0.05 and d[:n].max() > 1.2  # the sweep spans near and far pairs
    assert np.all((regret / lower)[n:] < 1.07)  # Bhatia–Davis is 6% loose for three actions

    # LP dual of the regret: min over μ ≥ 0 of the span of J₁ − μJ₂ over deterministic
    # policies; convex and piecewise linear in μ, so a minimum sits at 0 or where two lines tie.
    for k in range(n + 4):
        a, b = j1[k].astype(np.float64), j2[k].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ties = ((a[:, None] - a[None, :]) / (b[:, None] - b[None, :])).ravel()
        mu = np.concatenate([[0.0], ties[np.isfinite(ties) & (ties > 0)]])
        values = a[None, :] - mu[:, None] * b[None, :]
        assert regret[k] == pytest.approx((values.max(1) - values.min(1)).min(), abs=float(tol[k]))


# ---- the tabular toolkit -------------------------------------------------------------------
def test_exact_policy_evaluation_agrees_with_value_iteration_and_occupancy(world):
    w = world
    np.testing.assert_allclose(w["v_greedy"], w["q"].max(-1), rtol=1e-4, atol=1e-4)
    assert float(w["occupancy"].sum()) == pytest.approx(1 / (1 - GAMMA), rel=1e-4)
    assert float((w["occupancy"] * w["expected_reward"]).sum()) == pytest.approx(float(w["return_soft"]), rel=1e-4)
    assert w["regret_soft"] > 0.0


def test_stochastic_form_of_a_deterministic_gridworld_has_the_same_values():
    @jax.jit
    def both(cell_reward):
        nxt = tabular.gridworld_transitions(3)
        det = tabular.TabularMDP(nxt, cell_reward[nxt], jnp.asarray(0.9))
        reward = jnp.broadcast_to(det.reward[:, :, None], (9, 5, 9))
        return tabular.value_iteration(tabular.from_deterministic(det), reward, 300), tabular.q_values(det, iterations=300)

    q_stochastic, q_deterministic = both(jnp.asarray(np.random.default_rng(3).normal(size=9), jnp.float32))
    np.testing.assert_allclose(q_stochastic, q_deterministic, atol=1e-4)
    slippery = tabular.gridworld(3, slip=0.2)
    np.testing.assert_allclose(slippery.transition.sum(-1), 1.0, atol=1e-6)
    many = tabular.random_mdps(np.random.default_rng(4), 5, 6, 2, successors=3)
    np.testing.assert_allclose(many.transition.sum(-1), 1.0, atol=1e-6)
    assert np.all((np.asarray(many.transition) > 0).sum(-1) == 3)


# ---- sampled distances on an environment, and the eval-reward command -----------------------
def test_sampled_distances_are_invariant_to_shaping_and_scale_on_pendulum():
    import envs
    from jaxreward.evaluation import sampled
    from jaxreward.rewards import registry
    from jaxreward.rewards.base import RewardSpec

    env = envs.make("pendulum", time_limit=False)
    gold_model = registry.make("gold", RewardSpec(env.observation_size, env.action_size, env.discrete, 64, 1))
    phi = lambda o: 2.0 * jnp.sin(3.0 * o).sum(-1)  # noqa: E731 — an arbitrary potential of the observation
    shaped = lambda o, a, n, g: 3.0 * g + 0.99 * phi(n) - phi(o)  # noqa: E731
    speed = lambda o, a, n, g: -(n[:, 2] ** 2)  # noqa: E731 — pendulum's gold minus its angle term

    @jax.jit
    def compare(sample):
        gold = sampled.evaluate(sampled.model_fn(gold_model, gold_model.init(None)), sample)
        return {name: sampled.distances(gold, sampled.evaluate(fn, sample), sample.weight, 0.99)
                for name, fn in (("shaped", shaped), ("speed", speed), ("negated", lambda o, a, n, g: -g))}

    # The same sample (and compiled program) as the eval-reward test below.
    sample = sampled.sample(env, 0, num_transitions=64, num_samples=4)
    assert float(sample.weight.sum()) > 32  # most base transitions continue their episode
    d = jax.tree.map(float, compare(sample))
    for metric in ("epic", "dard", "starc"):
        assert d["shaped"][metric] < 1e-2, d
        assert d["speed"][metric] > 0.05, d  # a different reward is measurably away
    assert d["negated"]["epic"] == pytest.approx(1.0, abs=1e-3)
    assert d["negated"]["starc"] == pytest.approx(2.0, abs=1e-3)


def test_eval_reward_cli_prints_distances_and_names_valid_choices(capsys):
    from jaxreward import cli

    assert cli.main(["eval-reward", "--env", "pendulum", "--reward", "gold:2", "--against", "gold",
                     "--num-transitions", "64", "--num-samples", "4", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["transitions"] == 64
    assert out["epic"] < 1e-2 and out["dard"] < 1e-2 and out["starc"] < 1e-2  # a positive scaling of gold
    assert cli.main(["eval-reward", "--env", "pendulum", "--reward", "golld"]) == 2
    err = capsys.readouterr().err
    assert "--reward" in err and "golld" in err and "regression" in err
    assert cli.main(["eval-reward", "--env", "pendulm", "--reward", "gold"]) == 2
    err = capsys.readouterr().err
    assert "--env" in err and "pendulum" in err


def test_eval_reward_scores_a_runs_checkpoint_and_names_the_path_on_errors(tmp_path, capsys):
    """`eval-reward --checkpoint RUN_DIR` scores the reward in the run's checkpoint, not a fresh
    one. The run directory is made as `jaxreward train` leaves it, without training: its reward
    is gold + a regression MLP whose weights are zero in seed 0 only, so the checkpointed reward
    of the first seed is exactly gold, while a freshly initialised (or seed 1) one is not."""
    import json
    import shutil

    from jaxreward import checkpoint, cli, results
    from jaxreward.rewards.registry import RewardConfig
    from jaxreward.rewards.regression import RegressionConfig
    from jaxreward.training.config import TrainConfig
    from jaxreward.training.trainer import Trainer

    cfg = TrainConfig(env="pendulum", num_envs=4, num_seeds=2,
                      reward=RewardConfig(terms="gold,regression", regression=RegressionConfig(hidden=(16,))))
    trainer = Trainer(cfg)
    shapes = jax.eval_shape(jax.vmap(trainer.init), trainer.seed_keys())
    reward = jax.jit(jax.vmap(trainer.reward_model.init))(trainer.seed_keys())
    zeroed = jax.tree.map(lambda p: np.asarray(p) * (np.arange(2) > 0).reshape(-1, *([1] * (p.ndim - 1))), reward.terms[1].params)
    reward = reward.replace(terms=(reward.terms[0], reward.terms[1].replace(params=zeroed)))
    state = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), shapes).replace(reward=reward)
    run = tmp_path / "run"
    run.mkdir()
    results.write_config(str(run), cfg.to_dict())
    checkpoint.save(str(run / "checkpoints"), 4096, state)

    def eval_reward(*argv):
        code = cli.main(["eval-reward", *argv, "--num-transitions", "64", "--num-samples", "4", "--json"])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = eval_reward("--checkpoint", str(run), "--against", "gold")
    assert code == 0, err
    d = json.loads(out.strip().splitlines()[-1])
    assert d["env"] == "pendulum" and d["transitions"] == 64
    # ~1e-4 here; seed 1's (fresh) weights give EPIC 0.06, DARD 0.63, STARC 1.29.
    assert d["epic"] < 1e-2 and d["dard"] < 1e-2 and d["starc"] < 1e-2, d

    # Errors name the path: no directory, another env or reward, a config the checkpoint does
    # not fit (another network size), a damaged checkpoint.
    code, _, err = eval_reward("--checkpoint", str(tmp_path / "missing"))
    assert code == 2 and "missing" in err
    code, _, err = eval_reward("--checkpoint", str(run), "--env", "cartpole")
    assert code == 2 and str(run) in err and "pendulum" in err
    code, _, err = eval_reward("--checkpoint", str(run), "--reward", "regression")
    assert code == 2 and str(run) in err and "gold,regression" in err
    resized = tmp_path / "resized"
    shutil.copytree(run, resized)
    saved = json.loads((resized / "config.json").read_text())
    saved["reward"]["regression"]["hidden"] = [32]
    (resized / "config.json").write_text(json.dumps(saved))
    code, _, err = eval_reward("--checkpoint", str(resized))
    assert code == 2 and str(resized) in err and "does not match" in err
    for path in (run / "checkpoints").rglob("*"):
        if path.is_file():
            path.write_bytes(b"not a checkpoint")
    code, _, err = eval_reward("--checkpoint", str(run))
    assert code == 2 and str(run) in err
    code, _, err = eval_reward("--against", "gold")
    assert code == 2 and "--checkpoint" in err


# ---- reward transforms ---------------------------------------------------------------------
def test_transforms_match_their_formulas():
    from jaxreward.rewards import registry, transforms
    from jaxreward.rewards.base import RewardSpec, TransitionBatch

    T, B = 6, 3
    rng = np.random.default_rng(0)
    gold = [rng.normal(size=(T, B)).astype(np.float32) * 3 for _ in range(2)]
    done = np.zeros((T, B), bool)
    done[2, 0] = done[4, 1] = done[5, 2] = True  # env 2's episode ends on the first batch's last step
    members = rng.normal(size=(4, T, B)).astype(np.float32)
    spec = RewardSpec(observation_size=2, action_size=1, discrete=False, num_envs=B, unroll_length=T)

    def batch(g):
        zeros = jnp.zeros((T, B))
        return TransitionBatch(jnp.zeros((T, B, 2)), jnp.zeros((T, B, 1)), jnp.zeros((T, B, 2)), g, jnp.asarray(done), zeros, {})

    @jax.jit
    def run(g0, g1):
        out = {"par": transforms.par(g0, 0.3), "log_sigmoid": transforms.log_sigmoid(g0, 0.3), "clip": transforms.clip(g0, 1.5),
               "mean_minus_std": transforms.ensemble(members, "mean_minus_std", 0.7), "min": transforms.ensemble(members, "min")}
        for kind in ("par", "delta"):
            model = transforms.Transformed(registry.make("gold", spec), transforms.TransformConfig(kind=kind))
            state = model.init(jax.random.PRNGKey(0))
            state, _ = model.update(state, batch(g0), model.score(state, batch(g0)), jax.random.PRNGKey(1))
            out[f"wrapped_{kind}"], info = model.reward(state, batch(g1))
            out[f"reference_{kind}"] = info["reference"]
        # The reference: frozen after `reference_updates`, or a running mean of every update.
        for center in ("initial", "running_mean"):
            model = transforms.Transformed(registry.make("gold", spec), transforms.TransformConfig(kind="log_sigmoid", center=center, reference_updates=1))
            state = model.init(jax.random.PRNGKey(0))
            for g in (g0, g1):
                state, _ = model.update(state, batch(g), model.score(state, batch(g)), jax.random.PRNGKey(1))
            out[f"reference_{center}"] = model.reference(state)
        # As a composite term option, the transform wraps the term's model.
        composite = registry.make_composite(spec, registry.RewardConfig(terms="gold:2:transform=par"))
        cstate = composite.init(jax.random.PRNGKey(0))
        cstate, _ = composite.update(cstate, batch(g0), composite.score(cstate, batch(g0)), jax.random.PRNGKey(1))
        out["composite_par"], _ = composite.reward(cstate, batch(g1))
        return out

    out = jax.tree.map(np.asarray, run(*gold))
    g0, g1 = (g.astype(np.float64) for g in gold)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    np.testing.assert_allclose(out["par"], sigmoid(g0 - 0.3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["log_sigmoid"], np.log(sigmoid(g0 - 0.3)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["clip"], np.minimum(np.maximum(g0, -1.5), 1.5))
    np.testing.assert_allclose(out["mean_minus_std"], members.mean(0) - 0.7 * members.std(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["min"], members.min(0))
    # The wrapper centres on the running mean of what `update` saw.
    assert float(out["reference_par"]) == pytest.approx(g0.mean(), rel=1e-5)
    np.testing.assert_allclose(out["wrapped_par"], sigmoid(g1 - g0.mean()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["composite_par"], 2.0 * sigmoid(g1 - g0.mean()), rtol=1e-5, atol=1e-6)
    assert float(out["reference_initial"]) == pytest.approx(g0.mean(), rel=1e-5)
    assert float(out["reference_running_mean"]) == pytest.approx((g0.mean() + g1.mean()) / 2, rel=1e-4)
    # Delta: r_t − r_{t−1} per env, carried across batches, 0 right after an episode end.
    expected = np.zeros((T, B))
    for b in range(B):
        prev, prev_done = g0[-1, b], done[-1, b]
        for t in range(T):
            expected[t, b] = 0.0 if prev_done else g1[t, b] - prev
            prev, prev_done = g1[t, b], done[t, b]
    np.testing.assert_allclose(out["wrapped_delta"], expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="transform.kind"):
        transforms.TransformConfig(kind="sigmoid").validate()
    with pytest.raises(ValueError, match="transform must be one of"):
        registry.RewardConfig(terms="gold:1:transform=sigmoid").validate()


# ---- optimisation pressure: KL to the initial policy in PPO --------------------------------
def test_ppo_kl_to_init_tracking_changes_nothing_and_the_penalty_adds_the_kl():
    from jaxreward.agents import distributions
    from jaxreward.agents.ppo import PPO, PPOBatch, PPOConfig

    # Everything runs inside a few jitted functions: on a CPU each eager op is a compile.
    T, B, D, A = 8, 4, 3, 2
    base = dict(unroll_length=T, num_minibatches=2, update_epochs=2, policy_hidden=(8,), value_hidden=(8,), learning_rate=3e-2)
    agents = {"off": PPO(PPOConfig(**base), D, A, False),
              "track": PPO(PPOConfig(**base, track_kl_to_init=True), D, A, False)}
    penalised = PPO(PPOConfig(**base, track_kl_to_init=True, kl_to_init_coef=3.0), D, A, False)
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    obs, raw = f32(T, B, D), f32(T, B, A)
    zeros = np.zeros((T, B), np.float32)
    batch = PPOBatch(obs=obs, next_obs=obs, raw_action=raw, log_prob=zeros - 2.0, value=zeros,
                     reward=raw[..., 0] * 2.0, termination=zeros, done=zeros)

    def run(agent, state):
        def update(state, i):  # (numpy leaves become constants of the program)
            return agent.learn(state, jax.tree.map(jnp.asarray, batch), jax.random.PRNGKey(i))

        state, metrics = jax.lax.scan(update, state, np.arange(4))
        return state, jax.tree.map(lambda m: m[-1], metrics)

    # One initialisation for both (compiling flax's initialisers is seconds on a CPU); the
    # tracking agent's state also keeps the initial policy, as its `init` would.
    start = jax.jit(lambda: agents["off"].init(jax.random.PRNGKey(2)))()
    starts = {"off": start, "track": start.replace(init_policy=start.params["policy"])}
    out = {name: jax.jit(run, static_argnums=0)(agent, starts[name]) for name, agent in agents.items()}
    # Tracking only observes: the updates are bitwise those of plain PPO.
    jax.tree.map(np.testing.assert_array_equal, out["off"][0].params, out["track"][0].params)
    assert "ppo/kl_to_init" not in out["off"][1] and out["off"][0].init_policy is None
    # Without tracking the state has no extra leaves; with it, a copy of the policy (traced, not run).
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    assert jax.eval_shape(agents["off"].init, key).init_policy is None
    tracked = jax.eval_shape(agents["track"].init, key)
    assert jax.tree.structure(tracked.init_policy) == jax.tree.structure(tracked.params["policy"])
    state = out["track"][0]
    kl = float(out["track"][1]["ppo/kl_to_init"])
    assert kl > 1e-3  # the policy moved

    # The penalty adds coef · KL(π ‖ π_init) on the minibatch to the PPO loss, and only that.
    flat = jax.tree.map(lambda x: jnp.asarray(x.reshape((T * B,) + x.shape[2:])), batch)
    adv, ret = f32(T * B), np.zeros(T * B, np.float32)

    @jax.jit
    def check(state):
        direct = jnp.mean(agents["track"].kl_to_init(state.params, state.init_policy, obs))
        plain, _ = agents["track"].loss(state.params, state.hyper, flat, adv, ret, jax.random.PRNGKey(0))
        total, metrics = penalised.loss(state.params, state.hyper, flat, adv, ret, jax.random.PRNGKey(0), state.init_policy)
        # The closed form against a Monte-Carlo estimate E_p[log p − log q], and categorical KL by hand.
        p = distributions.make("normal_clip", jnp.array([0.3, -1.0]), jnp.array([0.1, -0.4]))
        q = distributions.make("normal_clip", jnp.array([-0.2, 0.5]), jnp.array([0.4, 0.2]))
        x = p.mean + jnp.exp(p.log_std) * noise
        c1, c2 = distributions.Categorical(jnp.array([1.0, 0.0, -1.0])), distributions.Categorical(jnp.array([0.0, 0.5, 0.0]))
        p1, p2 = jax.nn.softmax(c1.logits), jax.nn.softmax(c2.logits)
        return dict(direct=direct, gap=total - plain, kl_mb=metrics["loss/kl_to_init"],
                    normal=distributions.kl_divergence(p, q), normal_mc=jnp.mean(p.log_prob(x) - q.log_prob(x)),
                    categorical=distributions.kl_divergence(c1, c2), categorical_hand=jnp.sum(p1 * jnp.log(p1 / p2)))

    noise = np.random.default_rng(5).normal(size=(20000, 2)).astype(np.float32)
    c = jax.tree.map(float, check(state))
    assert kl == pytest.approx(c["direct"], rel=1e-5)
    assert c["kl_mb"] == pytest.approx(kl, rel=1e-5)  # same states: the whole rollout is one minibatch here
    assert c["gap"] == pytest.approx(3.0 * kl, rel=1e-4)
    assert c["normal"] == pytest.approx(c["normal_mc"], rel=0.03)
    assert c["categorical"] == pytest.approx(c["categorical_hand"], rel=1e-5)
    with pytest.raises(ValueError, match="ppo.kl_to_init_coef"):
        PPOConfig(kl_to_init_coef=1.0).validate()


# ---- experiments at smoke scale ------------------------------------------------------------
def test_reward_distance_vs_regret_smoke_canonical_distances_rank_regret(tmp_path):
    from experiments import reward_distance_vs_regret

    summary = {s["distance"]: s["spearman_vs_regret"] for s in reward_distance_vs_regret.main(["--scale", "smoke", "--out", str(tmp_path)])}
    # Proxies carry random shaping and scale, which move raw rewards but not policies: the
    # canonicalised distances must rank regret better than the raw L2 distance does.
    assert summary["starc"] > 0.5
    for metric in ("epic", "dard", "starc"):
        assert summary[metric] > summary["l2_raw"] + 0.1, summary
    for name in ("reward_distance_vs_regret.png", "results.csv", "summary.csv", "command.txt"):
        assert (tmp_path / name).exists()


def test_goodhart_smoke_early_stopping_only_ever_gains(tmp_path):
    import csv

    from experiments import goodhart

    summary = {s["angle"]: s for s in goodhart.main(["--scale", "smoke", "--out", str(tmp_path)])}
    assert summary[0]["drop_height"] < 1e-3  # optimising the true reward itself never Goodharts
    assert summary[90]["fraction_goodharting"] > 0.3  # an orthogonal proxy often does
    assert summary[90]["stopped_true_return"] > summary[90]["final_true_return"]
    # The stopping rule's guarantee: up to the stop, every step raised the true return.
    with open(tmp_path / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    runs: dict = {}
    for r in rows:
        runs.setdefault((r["angle"], r["mdp"]), []).append(r)
    for run in runs.values():
        stop = next(i for i, r in enumerate(run) if r["stopped"] == "1")
        path = np.array([float(r["true_return"]) for r in run[: stop + 1]])
        assert np.all(np.diff(path) >= -1e-4), path
    for name in ("goodhart.png", "curves.csv", "summary.csv", "command.txt"):
        assert (tmp_path / name).exists()


def test_overoptimisation_fits_recover_the_functional_forms(tmp_path):
    """The training run itself is minutes of compiling on a CPU (its smoke numbers are in
    docs/reproductions.md, "Overoptimisation"); here its fitting and drawing run on curves
    drawn from Gao et al.'s RL form."""
    import csv

    from experiments import overoptimisation

    rng = np.random.default_rng(0)
    rows = []
    for budget, (alpha, beta) in ((30, (400.0, 300.0)), (300, (600.0, 150.0))):
        d = np.linspace(0.05, 2.0, 30)
        gold = -1200.0 + d * (alpha - beta * np.log(d)) + rng.normal(0, 2.0, d.shape)
        for i, (di, g) in enumerate(zip(d, gold)):
            rows.append(dict(model="32,32", transform="none", budget=budget, pessimism=0.0, seed=0, env_steps=(i + 1) * 1000, gold_return=g,
                             proxy_return=float(i), kl_to_init=di**2, accuracy_heldout=0.9, queries=budget))
    with open(tmp_path / "curves.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    fitted = {(f["budget"], f["form"]): f for f in overoptimisation.main(["--from-csv", "--out", str(tmp_path)])}
    for budget, (alpha, beta) in ((30, (400.0, 300.0)), (300, (600.0, 150.0))):
        rl = fitted[(budget, "rl")]
        assert rl["alpha"] == pytest.approx(alpha, rel=0.05) and rl["beta"] == pytest.approx(beta, rel=0.05), rl
        assert rl["c"] == pytest.approx(-1200.0, abs=10.0)
        assert rl["r2"] > 0.99 and rl["r2"] >= fitted[(budget, "bon")]["r2"]
    assert (tmp_path / "overoptimisation.png").exists() and (tmp_path / "fits.csv").exists()


def test_overoptimisation_smoke_run_trains_and_writes_curves_fits_and_plot(tmp_path):
    """The training side of the experiment at a shortened smoke scale (12 log points of one
    iteration, 49k steps per run): the four runs (N in {30, 300} x k in {0, 1}) share one
    program, log gold and proxy return beside the KL to the initial policy, and ask no more
    labels than their budget."""
    from experiments import overoptimisation

    overoptimisation.main(["--scale", "smoke", "--total-steps", str(12 * 4096), "--out", str(tmp_path)])
    rows = overoptimisation.read_curves(str(tmp_path / "curves.csv"))
    runs = {(r["budget"], r["pessimism"]) for r in rows}
    assert runs == {(30, 0.0), (30, 1.0), (300, 0.0), (300, 1.0)}
    for budget, k in runs:
        run = sorted((r for r in rows if (r["budget"], r["pessimism"]) == (budget, k)), key=lambda r: r["env_steps"])
        assert len(run) == 12 and run[-1]["env_steps"] == 12 * 4096
        assert all(0 < r["queries"] <= budget for r in run), run
        kl = np.array([r["kl_to_init"] for r in run])
        assert np.all(np.isfinite(kl)) and kl[-1] > kl[0] > 0, kl  # the policy moves away from its start
        # 200-step episodes end at steps 200, 400 and 600: in the 64-step log points 4, 7 and
        # 10 (indices 3, 6, 9); the others have no finished episode (NaN).
        gold = np.array([r["gold_return"] for r in run])
        assert np.flatnonzero(np.isfinite(gold)).tolist() == [3, 6, 9], gold
        assert np.all(gold[[3, 6, 9]] < 0), gold
    for name in ("curves.csv", "fits.csv", "overoptimisation.png", "command.txt"):
        assert (tmp_path / name).exists()
