#!/usr/bin/env bash
# Prepare a (root, Debian) CI machine for the sandbox tests: docker.io, debootstrap and
# bubblewrap from apt, a running Docker daemon, and the sandbox image built offline.
# Safe to run again: every step is skipped when it is already done.
#
#   bash sandboxes/ci-setup.sh [--image TAG] [--mirror URL]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The tag verigen looks for: the runner's sha256, 12 digits (verigen.sandbox.docker).
RUNNER_SHA="$(sha256sum "$HERE/python/runner.py" | cut -d' ' -f1)"
IMAGE="verigen-sandbox-python:${RUNNER_SHA:0:12}"
MIRROR_ARGS=()
DOCKERD_LOG="/var/log/verigen-dockerd.log"
WAIT_S=60

while [ $# -gt 0 ]; do
    case "$1" in
        --image) IMAGE="${2:?--image needs a tag}"; shift 2 ;;
        --mirror) MIRROR_ARGS=(--mirror "${2:?--mirror needs a URL}"); shift 2 ;;
        *) echo "usage: $0 [--image TAG] [--mirror URL]" >&2; exit 2 ;;
    esac
done

say() { echo "ci-setup: $*"; }
die() { echo "ci-setup: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, starts dockerd)"

# 1. Packages.
if command -v dockerd >/dev/null && command -v docker >/dev/null \
    && command -v debootstrap >/dev/null && command -v bwrap >/dev/null; then
    say "docker.io, debootstrap and bubblewrap already installed"
else
    command -v apt-get >/dev/null || die "no apt-get: install docker.io, debootstrap, bubblewrap by hand"
    say "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    say "apt-get install docker.io debootstrap bubblewrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        docker.io debootstrap bubblewrap >/dev/null || die "apt-get install failed"
fi

# 2. The Docker daemon.
if docker info >/dev/null 2>&1; then
    say "Docker daemon answers"
else
    if pidof dockerd >/dev/null; then
        say "dockerd is running but not answering yet; waiting"
    else
        say "starting dockerd in the background (log: $DOCKERD_LOG)"
        setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    for _ in $(seq 1 "$WAIT_S"); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
        die "the Docker daemon did not answer within ${WAIT_S}s (log above: $DOCKERD_LOG)"
    fi
    say "Docker daemon answers"
fi

# 3. The sandbox image, rebuilt when missing or built from another runner.py.
want="$RUNNER_SHA"
have="$(docker image inspect --format '{{index .Config.Labels "verigen.runner.sha256"}}' \
    "$IMAGE" 2>/dev/null || true)"
if [ "$have" = "$want" ]; then
    say "image $IMAGE is up to date"
else
    if [ -z "$have" ]; then say "image $IMAGE missing: building it offline"
    else say "image $IMAGE was built from another runner.py: rebuilding"; fi
    bash "$HERE/python/build-offline.sh" --tag "$IMAGE" "${MIRROR_ARGS[@]}" >/dev/null \
        || die "offline image build failed (see messages above)"
    say "built $IMAGE"
fi
say "done"
