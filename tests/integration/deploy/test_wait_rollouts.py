"""scripts/wait-rollouts.sh, the CD step that waits for the canaries, against a scripted kubectl.

There is no cluster here; a stand-in `kubectl` first on PATH answers the two questions the
script asks (the Rollouts' names, one jsonpath field of an object) from a JSON file, the way
the API server would for a cluster in that state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPT = REPO_ROOT / "scripts" / "wait-rollouts.sh"

FAKE_KUBECTL = """#!{python}
import json, sys
state = json.load(open({state!r}))
args = sys.argv[1:]
if args[:4] == ["-n", "roost", "get", "rollouts"]:
    print("\\n".join(state["rollouts"]))
elif args[:3] == ["-n", "roost", "get"] and args[4] == "-o":
    print(state["fields"][args[3]][args[5].removeprefix("jsonpath=")], end="")
else:
    sys.exit(f"unexpected kubectl {{args}}")
"""


def rollout(
    phase: str, observed: str, generation: str, message: str = ""
) -> dict[str, dict[str, str]]:
    return {
        "rollout.argoproj.io/roost-kv": {
            "{.spec.workloadRef.name}": "roost-kv",
            "{.status.workloadObservedGeneration}": observed,
            "{.status.phase}": phase,
            "{.status.message}": message,
        },
        "deployment/roost-kv": {"{.metadata.generation}": generation},
    }


def wait(tmp_path: Path, fields: dict[str, dict[str, str]]) -> subprocess.CompletedProcess[str]:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"rollouts": ["rollout.argoproj.io/roost-kv"], "fields": fields}))
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable, state=str(state)))
    kubectl.chmod(0o755)
    environment = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    # Timeout 0: one look at the state, no polling.
    return subprocess.run(
        ["bash", str(SCRIPT), "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=environment,
    )


def test_a_rollout_healthy_at_the_deployments_generation_passes(tmp_path: Path) -> None:
    result = wait(tmp_path, rollout("Healthy", observed="4", generation="4"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Healthy at deployment/roost-kv generation 4" in result.stdout


def test_an_aborted_canary_fails_with_its_message(tmp_path: Path) -> None:
    fields = rollout("Degraded", "4", "4", message="RolloutAborted: metric error-ratio failed")
    result = wait(tmp_path, fields)
    assert result.returncode == 1
    assert "Degraded: RolloutAborted: metric error-ratio failed" in result.stderr


@pytest.mark.parametrize("phase", ["Healthy", "Degraded"])
def test_a_phase_from_before_the_new_release_does_not_count(tmp_path: Path, phase: str) -> None:
    # Right after `kubectl apply` the controller may not have seen the new template yet: its
    # Healthy (or Degraded) is the previous release's.
    result = wait(tmp_path, rollout(phase, observed="3", generation="4"))
    assert result.returncode == 1
    assert f"still {phase} (observed 3 of 4)" in result.stderr
