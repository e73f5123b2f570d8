#!/usr/bin/env bash
# Deploy one overlay at one release, the way CD does it, or undo that deploy.
#
#   deploy/kubernetes/deploy.sh deploy   <overlay> <tag> <state-file>
#   deploy/kubernetes/deploy.sh rollback <state-file>
#   deploy/kubernetes/deploy.sh smoke
#
# deploy:   render the overlay with the release's image, run `roost migrate` as a Job and wait
#           for it, apply everything, wait for every rollout, then `roost smoke` each HTTP role
#           through a port-forward. Exits non-zero on the first failure. Before changing
#           anything it writes each Deployment's current revision to <state-file>.
# smoke:    only the smoke step, against what runs now (after a manual fix, say).
# rollback: put every Deployment whose revision changed back to the revision in <state-file>.
#           Migrations are not undone: they only add, and the previous release runs on the
#           newer schema.
#
# Needs kubectl (with access to the namespace), python with roost installed (`roost smoke`
# and ROLE_PORTS), and AWS_ACCOUNT_ID for the staging/prod overlays' placeholder account.
#
# Smoke credentials: staging and prod run with ROOST_ENVIRONMENT=production, where the optimizer
# answers nothing without credentials and the admin routes need the admin scope. `roost smoke`
# reads ROOST_SMOKE_API_KEY (CD fills it from a GitHub environment secret) or ROOST_SMOKE_TOKEN.
# When neither is set, the key of the `deploy-smoke` entry of ROOST_API_KEYS in the Secret
# `roost-secrets` is used (needs `get` on that Secret). No value is ever printed.
set -euo pipefail

NAMESPACE="${NAMESPACE:-roost}"
SMOKE_KEY_NAME="${SMOKE_KEY_NAME:-deploy-smoke}"
# First local port of the port-forwards, one per role.
SMOKE_LOCAL_PORT="${SMOKE_LOCAL_PORT:-18000}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '\n==> %s\n' "$*" >&2; }

deployment_revisions() {
  kubectl -n "$NAMESPACE" get deployments -l app.kubernetes.io/part-of=roost \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.annotations.deployment\.kubernetes\.io/revision}{"\n"}{end}'
}

render() {
  local overlay="$1" tag="$2" work="$3"
  # Edit a copy: the checkout stays clean and a failed run leaves nothing behind.
  cp -R "$HERE" "$work/kubernetes"
  local dir="$work/kubernetes/overlays/$overlay"
  if grep -q 111122223333 "$dir"/*.yaml; then
    : "${AWS_ACCOUNT_ID:?AWS_ACCOUNT_ID is required for overlay $overlay}"
    sed -i "s/111122223333/${AWS_ACCOUNT_ID}/g" "$dir"/*.yaml
  fi
  sed -i "s/newTag: .*/newTag: ${tag}/" "$dir/kustomization.yaml"
  kubectl kustomize "$dir" >"$work/manifests.yaml"
}

migrate() {
  local manifests="$1"
  log "migrations"
  kubectl -n "$NAMESPACE" delete job roost-migrate --ignore-not-found --wait=true
  kubectl apply -f "$manifests" -l app.kubernetes.io/component=migrate
  if ! kubectl -n "$NAMESPACE" wait --for=condition=complete job/roost-migrate --timeout=10m; then
    kubectl -n "$NAMESPACE" logs job/roost-migrate --tail=100 || true
    return 1
  fi
}

# The key of the API key entry named $SMOKE_KEY_NAME ("name:key:scopes", comma-separated).
smoke_key_from_secret() {
  kubectl -n "$NAMESPACE" get secret roost-secrets -o jsonpath='{.data.ROOST_API_KEYS}' 2>/dev/null \
    | base64 -d 2>/dev/null \
    | tr ',' '\n' \
    | sed 's/^[[:space:]]*//' \
    | awk -F: -v name="$SMOKE_KEY_NAME" '$1 == name { print $2; exit }'
}

smoke_credentials() {
  if [ -n "${ROOST_SMOKE_API_KEY:-}" ] || [ -n "${ROOST_SMOKE_TOKEN:-}" ]; then
    return 0
  fi
  ROOST_SMOKE_API_KEY="$(smoke_key_from_secret || true)"
  export ROOST_SMOKE_API_KEY
  if [ -n "$ROOST_SMOKE_API_KEY" ]; then
    log "smoke credentials: API key '$SMOKE_KEY_NAME' from secret roost-secrets"
  else
    log "no smoke credentials (ROOST_SMOKE_API_KEY, ROOST_SMOKE_TOKEN or '$SMOKE_KEY_NAME' in roost-secrets): roles that require auth will fail"
  fi
}

smoke_all() {
  local roles port local_port pid status=0
  smoke_credentials
  roles="$(python -c 'from roost.core.settings import ROLE_PORTS
print("\n".join(f"{r} {p}" for r, p in ROLE_PORTS.items() if r != "worker"))')"
  local_port="$SMOKE_LOCAL_PORT"
  while read -r role port; do
    log "smoke: $role"
    kubectl -n "$NAMESPACE" port-forward "svc/roost-$role" "$local_port:$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 50); do
      python -c "import socket; socket.create_connection(('127.0.0.1', $local_port), 0.2)" 2>/dev/null && break
      sleep 0.2
    done
    roost smoke "http://127.0.0.1:$local_port" || status=1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local_port=$((local_port + 1))
  done <<<"$roles"
  return "$status"
}

deploy() {
  local overlay="$1" tag="$2" state_file="$3" work status=0
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN

  render "$overlay" "$tag" "$work"
  deployment_revisions >"$state_file"
  log "current revisions saved to $state_file"

  migrate "$work/manifests.yaml"

  log "apply $overlay at $tag"
  kubectl apply -f "$work/manifests.yaml"

  for deployment in $(kubectl -n "$NAMESPACE" get deployments -l app.kubernetes.io/part-of=roost -o name); do
    kubectl -n "$NAMESPACE" rollout status "$deployment" --timeout=10m || status=1
  done
  [ "$status" -eq 0 ] || { log "a rollout did not complete"; return 1; }

  smoke_all || { log "smoke tests failed"; return 1; }
  log "deployed $overlay at $tag"
}

rollback() {
  local state_file="$1" name revision current
  [ -s "$state_file" ] || { log "nothing to roll back: $state_file is empty (first deploy?)"; return 0; }
  while read -r name revision; do
    [ -n "$revision" ] || continue
    current="$(kubectl -n "$NAMESPACE" get deployment "$name" \
      -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')"
    if [ "$current" != "$revision" ]; then
      log "rollback $name: revision $current -> $revision"
      kubectl -n "$NAMESPACE" rollout undo "deployment/$name" --to-revision="$revision"
    fi
  done <"$state_file"
  while read -r name _; do
    kubectl -n "$NAMESPACE" rollout status "deployment/$name" --timeout=10m
  done <"$state_file"
}

case "${1:-}" in
  deploy) [ $# -eq 4 ] || { echo "usage: $0 deploy <overlay> <tag> <state-file>" >&2; exit 2; }; deploy "$2" "$3" "$4" ;;
  rollback) [ $# -eq 2 ] || { echo "usage: $0 rollback <state-file>" >&2; exit 2; }; rollback "$2" ;;
  smoke) [ $# -eq 1 ] || { echo "usage: $0 smoke" >&2; exit 2; }; smoke_all || { log "smoke tests failed"; exit 1; } ;;
  *) echo "usage: $0 deploy <overlay> <tag> <state-file> | rollback <state-file> | smoke" >&2; exit 2 ;;
esac
