#!/usr/bin/env bash
# Wait for every Argo Rollout of Roost to carry its Deployment's current pod template through
# the canary steps; what CD runs after deploy.sh in the AWS overlays.
#
#   scripts/wait-rollouts.sh <timeout-seconds>
#
# A Rollout with a workloadRef is done with the new release when it has observed the
# Deployment's current generation (.status.workloadObservedGeneration) and its phase is
# Healthy. Phase Degraded (the analysis failed, or someone aborted) fails at once; so does the
# timeout. Needs kubectl with access to the namespace (NAMESPACE, default roost); the
# `kubectl argo rollouts` plugin is not used.
set -euo pipefail

NAMESPACE="${NAMESPACE:-roost}"
TIMEOUT="${1:?usage: $0 <timeout-seconds>}"
deadline=$((SECONDS + TIMEOUT))

field() { kubectl -n "$NAMESPACE" get "$1" -o jsonpath="$2"; }

status=0
for rollout in $(kubectl -n "$NAMESPACE" get rollouts -l app.kubernetes.io/part-of=roost -o name); do
  deployment="deployment/$(field "$rollout" '{.spec.workloadRef.name}')"
  while :; do
    generation="$(field "$deployment" '{.metadata.generation}')"
    observed="$(field "$rollout" '{.status.workloadObservedGeneration}')"
    phase="$(field "$rollout" '{.status.phase}')"
    if [ "$observed" = "$generation" ] && [ "$phase" = Healthy ]; then
      echo "$rollout: Healthy at $deployment generation $generation"
      break
    fi
    if [ "$observed" = "$generation" ] && [ "$phase" = Degraded ]; then
      echo "$rollout: Degraded: $(field "$rollout" '{.status.message}')" >&2
      status=1
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$rollout: still $phase (observed $observed of $generation) after ${TIMEOUT}s" >&2
      status=1
      break
    fi
    sleep 10
  done
done
exit "$status"
