"""Multi-host start-up: `jax.distributed.initialize` from flags or environment variables.

One process per host runs the same command. Set either the CLI flags of `jaxreward train`
/ `jaxreward sweep` (`--coordinator-address HOST:PORT --num-processes N --process-id I`)
or the environment variables `JAXREWARD_COORDINATOR_ADDRESS`, `JAXREWARD_NUM_PROCESSES`,
`JAXREWARD_PROCESS_ID`; on Cloud TPU pods and SLURM jobs `--distributed` alone lets JAX
detect them. After initialisation `jax.devices()` lists every host's devices, and the
trainer's mesh (`Trainer.shardings`) splits the environment batch over all of them, so the
same config runs on 1 device, N local devices, or N hosts.
"""

from __future__ import annotations

import os

ENV_VARS = ("JAXREWARD_COORDINATOR_ADDRESS", "JAXREWARD_NUM_PROCESSES", "JAXREWARD_PROCESS_ID")


def initialize(
    enabled: bool = False,
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Initialises the JAX distributed runtime when asked to; returns whether it did.

    Asked to = `enabled`, or any of the three settings given by argument or environment.
    Must run before the first JAX computation.
    """
    coordinator_address = coordinator_address or os.environ.get(ENV_VARS[0])
    num_processes = num_processes if num_processes is not None else _int_env(ENV_VARS[1])
    process_id = process_id if process_id is not None else _int_env(ENV_VARS[2])
    if not (enabled or coordinator_address or num_processes is not None or process_id is not None):
        return False
    given = [coordinator_address is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise ValueError(
            "multi-host: give all of coordinator address, number of processes and process id "
            f"(flags --coordinator-address/--num-processes/--process-id or {', '.join(ENV_VARS)}), "
            "or none of them with --distributed to let JAX detect the cluster"
        )
    import jax

    if all(given):
        if not 0 <= process_id < num_processes:
            raise ValueError(f"multi-host: process id {process_id} is not in [0, {num_processes})")
        jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes, process_id=process_id)
    else:
        jax.distributed.initialize()
    return True


def is_main_process() -> bool:
    """True on the process that writes files and prints (process 0)."""
    import jax

    return jax.process_index() == 0


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
