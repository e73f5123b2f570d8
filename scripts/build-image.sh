#!/usr/bin/env bash
# Build deploy/docker/Dockerfile with podman, with no container registry in reach.
#
#   scripts/build-image.sh            # or: make image
#
# 1. Writes the containers.conf this machine needs (runc, nofile/nproc within the hard limits,
#    no systemd/journald) to .roost/image/containers.conf; export CONTAINERS_CONF to that file
#    to run the same podman by hand.
# 2. Makes the Dockerfile's FROM image (python:3.11-slim-bookworm) from Debian packages with
#    debootstrap and `podman import`s it under the exact FROM name. Skipped when an image of the
#    same recipe (packages, mirror, extra CA certificates) is already there.
# 3. `podman build --pull=never --format docker` (the OCI format drops HEALTHCHECK), reusing
#    cached layers, tagged $ROOST_IMAGE (default localhost/roost:dev).
#
# Idempotent: a second run with nothing changed rebuilds nothing. Needs root (debootstrap,
# rootful podman) and the Debian packages in the Makefile's SYSTEM_PACKAGES.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_dir=${ROOST_IMAGE_STATE_DIR:-$repo_root/.roost/image}
image=${ROOST_IMAGE:-localhost/roost:dev}
# The build backend with its version plugin: the dev extras install both into .venv.
hatchling=${ROOST_HATCHLING:-$repo_root/.venv/bin/hatchling}
dockerfile=$repo_root/deploy/docker/Dockerfile
base_packages=python3,python3-venv,ca-certificates,netbase,tzdata
suite=bookworm
extra_ca_dir=/usr/local/share/ca-certificates

log() { printf 'build-image: %s\n' "$*" >&2; }

# The FROM image, spelled as podman stores it: the Dockerfile's PYTHON_IMAGE default.
base_image_name() {
  local name
  name=$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$dockerfile" | head -n1)
  [[ -n $name ]] || { log "no 'ARG PYTHON_IMAGE=' in $dockerfile"; exit 1; }
  case $name in
    */*/*) printf '%s\n' "$name" ;;
    */*) printf 'docker.io/%s\n' "$name" ;;
    *) printf 'docker.io/library/%s\n' "$name" ;;
  esac
}

# The Debian mirror apt uses on this machine (deb822 or one-line sources), so debootstrap goes
# where apt already can; ROOST_DEBIAN_MIRROR overrides it.
debian_mirror() {
  if [[ -n ${ROOST_DEBIAN_MIRROR:-} ]]; then
    printf '%s\n' "$ROOST_DEBIAN_MIRROR"
    return
  fi
  local found=""
  shopt -s nullglob
  local sources=(/etc/apt/sources.list.d/*.sources)
  if ((${#sources[@]})); then
    # A stanza ends at a blank line; take the URI of the first one serving "$suite" itself.
    found=$(awk -v suite="$suite" '
      /^URIs:/ { uris = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) serves = 1 }
      /^[[:space:]]*$/ { if (serves && uris != "") { print uris; exit } uris = ""; serves = 0 }
      END { if (serves && uris != "") print uris }
    ' "${sources[@]}" | head -n1)
  fi
  if [[ -z $found ]]; then
    local lists=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
    for list in "${lists[@]}"; do
      [[ -f $list ]] || continue
      found=$(awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' "$list")
      [[ -n $found ]] && break
    done
  fi
  shopt -u nullglob
  printf '%s\n' "${found:-http://deb.debian.org/debian}"
}

write_containers_conf() {
  local hard_nofile hard_nproc
  hard_nofile=$(ulimit -Hn)
  hard_nproc=$(ulimit -Hu)
  [[ $hard_nofile == unlimited ]] && hard_nofile=1048576
  # runc fails on nproc above 32768 here even under a 96369 hard limit: stay at or below both.
  if [[ $hard_nproc == unlimited ]] || ((hard_nproc > 32768)); then hard_nproc=32768; fi
  mkdir -p "$state_dir"
  # crun rejects this sandbox's cgroup v1 layout, runc runs; podman's default nofile and nproc
  # are above this machine's hard limits (runc then fails with "error setting rlimit"), so
  # containers get exactly the hard limits; there is no systemd, so events go to a file
  # instead of journald.
  cat >"$state_dir/containers.conf.new" <<EOF
# Written by scripts/build-image.sh; CONTAINERS_CONF points podman at it.
[containers]
default_ulimits = ["nofile=${hard_nofile}:${hard_nofile}", "nproc=${hard_nproc}:${hard_nproc}"]

[engine]
runtime = "runc"
events_logger = "file"
cgroup_manager = "cgroupfs"
EOF
  mv "$state_dir/containers.conf.new" "$state_dir/containers.conf"
  export CONTAINERS_CONF=$state_dir/containers.conf
}

# Changes whenever the base image would come out different: recipe, mirror, extra CAs. Bump
# "recipe N" with any change to make_base_image.
base_recipe_id() {
  {
    printf 'recipe 1 %s %s %s\n' "$suite" "$base_packages" "$1"
    if [[ -d $extra_ca_dir ]]; then
      find "$extra_ca_dir" -type f -name '*.crt' -print0 | sort -z | xargs -0r sha256sum
    fi
  } | sha256sum | cut -c1-16
}

make_base_image() {
  local base_image=$1 mirror recipe current rootfs
  mirror=$(debian_mirror)
  recipe=$(base_recipe_id "$mirror")
  current=$(podman image inspect --format '{{ index .Labels "roost.base.recipe" }}' \
    "$base_image" 2>/dev/null || true)
  if [[ $current == "$recipe" ]]; then
    log "base image $base_image is current (recipe $recipe)"
    return
  fi
  log "making $base_image with debootstrap from $mirror (recipe $recipe)"
  rootfs=$state_dir/rootfs
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  debootstrap --variant=minbase --include="$base_packages" "$suite" "$rootfs" "$mirror" \
    >"$state_dir/debootstrap.log" 2>&1 || {
    log "debootstrap failed; last lines of $state_dir/debootstrap.log:"
    tail -n 20 "$state_dir/debootstrap.log" >&2
    exit 1
  }
  # Where the official image has its interpreter (our Dockerfile says `python`).
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python3"
  ln -sf python3 "$rootfs/usr/local/bin/python"
  # The network here re-signs TLS: pip in the build trusts what the host trusts.
  if [[ -d $extra_ca_dir ]]; then
    find "$extra_ca_dir" -type f -name '*.crt' -exec cp {} "$rootfs/usr/local/share/ca-certificates/" \;
  fi
  chroot "$rootfs" update-ca-certificates >/dev/null
  # What the slim image leaves out too: package caches, indexes, docs and man pages.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  tar -C "$rootfs" --numeric-owner -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL roost.base.recipe=$recipe" \
    --change 'CMD ["python3"]' \
    - "$base_image" >/dev/null
  rm -rf "$rootfs"
}

# Proxies reach the build as Docker's predefined build args: usable by RUN, kept out of the
# image's config and history. Nothing else of the host's pip setup is needed: its pip.conf
# only names the system CA bundle (the base image has the same CAs) and local wheel folders
# the build cannot see and does not need.
proxy_build_args() {
  local name
  for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [[ -n ${!name:-} ]]; then
      printf -- '--build-arg\n%s=%s\n' "$name" "${!name}"
    fi
  done
}

build_image() {
  local version revision args=()
  # The version hatch-vcs reads from git (the context sent to the build has no .git): the
  # wheel inside and the label outside get this one string.
  version=$(cd "$repo_root" && "$hatchling" version)
  revision=$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || echo unknown)
  mapfile -t args < <(proxy_build_args)
  log "building $image"
  podman build --pull=never --format docker --layers --network host \
    --file "$dockerfile" --tag "$image" \
    --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    --build-arg "PIP_DEFAULT_TIMEOUT=${PIP_DEFAULT_TIMEOUT:-60}" \
    "${args[@]}" "$repo_root"
}

main() {
  local started=$SECONDS
  [[ -x $hatchling ]] || { log "no $hatchling: run make install first"; exit 1; }
  mkdir -p "$state_dir"
  # One build at a time per checkout: two debootstraps into one rootfs would wreck both.
  exec 9>"$state_dir/lock"
  flock 9
  write_containers_conf
  make_base_image "$(base_image_name)"
  build_image
  log "done in $((SECONDS - started)) s: $image ($(podman image inspect --format '{{ .Size }}' "$image") bytes)"
}

main "$@"
