#!/usr/bin/env bash
# Build the verigen Python sandbox image WITHOUT pulling from an image registry.
#
# Equivalent to sandboxes/python/Dockerfile (python3, non-root user 10001 "sandbox",
# /opt/verigen/runner.py, WORKDIR /tmp, nothing else), but the root file system comes from
# `debootstrap --variant=minbase` against a Debian package mirror, and the image is created
# with `docker import`. The mirror is read from this machine's apt sources unless --mirror
# is given; the suite from /etc/os-release unless --suite is given.
#
# The cleaned debootstrap root is cached as a tarball (default /var/cache/verigen), so a
# re-run only re-imports it. Needs root, debootstrap and a running Docker daemon.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TAG=""  # default: verigen-sandbox-python:<first 12 hex digits of the runner's sha256>
MIRROR=""
SUITE=""
CACHE_DIR="/var/cache/verigen"
RUNNER="$HERE/runner.py"
SANDBOX_UID=10001

usage() {
    cat <<EOF
usage: $0 [--mirror URL] [--suite SUITE] [--tag TAG] [--cache-dir DIR] [--runner PATH]
  --mirror URL     Debian mirror (default: the main Debian URI in this machine's apt sources)
  --suite SUITE    Debian suite (default: VERSION_CODENAME from /etc/os-release)
  --tag TAG        image tag (default: verigen-sandbox-python:<runner sha256, 12 digits>)
  --cache-dir DIR  where the debootstrap root tarball is cached (default: $CACHE_DIR;
                   delete rootfs-*.tar there to bootstrap afresh)
  --runner PATH    the fork-server to copy in (default: $RUNNER)
EOF
}

log() { echo "build-offline: $*" >&2; }
die() { echo "build-offline: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --mirror) MIRROR="${2:?--mirror needs a URL}"; shift 2 ;;
        --suite) SUITE="${2:?--suite needs a name}"; shift 2 ;;
        --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
        --cache-dir) CACHE_DIR="${2:?--cache-dir needs a directory}"; shift 2 ;;
        --runner) RUNNER="${2:?--runner needs a path}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

# Every URI of the enabled apt sources, one per line: deb822 "URIs:" fields of *.sources
# and the URI column of one-line "deb ..." entries (options in [...] skipped).
apt_uris() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2 }'
    done
}

# Prefer the main Debian archive (a URI ending in /debian), then anything Debian that is
# not the security archive, then the first URI at all.
detect_mirror() {
    local uris
    uris="$(apt_uris | sed -e 's:/*$::' | awk '!seen[$0]++')"
    [ -n "$uris" ] || return 1
    echo "$uris" | grep -E '/debian$' | head -n1 && return 0
    echo "$uris" | grep -i debian | grep -vi security | head -n1 && return 0
    echo "$uris" | head -n1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap creates device nodes and chroots)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install -y debootstrap)"
command -v docker >/dev/null || die "the docker CLI is not installed (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start dockerd first)"
[ -f "$RUNNER" ] || die "runner not found: $RUNNER"
RUNNER_SHA="$(sha256sum "$RUNNER" | cut -d' ' -f1)"
[ -n "$TAG" ] || TAG="verigen-sandbox-python:${RUNNER_SHA:0:12}"

if [ -z "$SUITE" ]; then
    # shellcheck disable=SC1091
    SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [ -n "$SUITE" ] || die "no VERSION_CODENAME in /etc/os-release: pass --suite"
fi
if [ -z "$MIRROR" ]; then
    MIRROR="$(detect_mirror)" || die "no apt source found in /etc/apt: pass --mirror URL"
    [ -n "$MIRROR" ] || die "no apt source found in /etc/apt: pass --mirror URL"
fi
ARCH="$(dpkg --print-architecture)"
ROOTFS_TAR="$CACHE_DIR/rootfs-$SUITE-$ARCH-python3.tar"
log "suite=$SUITE arch=$ARCH mirror=$MIRROR tag=$TAG"

WORK="$(mktemp -d /tmp/verigen-rootfs.XXXXXX)"
cleanup() { rm -rf --one-file-system "$WORK"; }
trap cleanup EXIT
ROOT="$WORK/root"
mkdir -p "$ROOT"

# Shrink the root: nothing here is needed to run Python programs.
slim_root() {
    rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old \
        "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
        "$ROOT"/usr/share/locale/* "$ROOT"/usr/share/lintian "$ROOT"/var/log/* \
        "$ROOT"/debootstrap
    # Only the standard library in the sandbox's Python view: no Debian python3-* modules.
    rm -rf "$ROOT"/usr/lib/python3/dist-packages/* "$ROOT"/usr/local/lib/python3*/dist-packages/* \
        "$ROOT"/usr/lib/python3*/site-packages/*
}

if [ -f "$ROOTFS_TAR" ]; then
    log "using cached root $ROOTFS_TAR"
    tar -C "$ROOT" --numeric-owner -xpf "$ROOTFS_TAR"
else
    log "debootstrap --variant=minbase --include=python3 $SUITE (takes a few minutes)"
    debootstrap --variant=minbase --include=python3 "$SUITE" "$ROOT" "$MIRROR" \
        > "$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed (see above)"; }
    slim_root
    mkdir -p "$CACHE_DIR"
    tar -C "$ROOT" --numeric-owner -cpf "$ROOTFS_TAR.partial" .
    mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
    log "cached root in $ROOTFS_TAR"
fi

[ -x "$ROOT/usr/bin/python3" ] || die "the root has no /usr/bin/python3"
slim_root  # again: a cached root from an older build may predate a rule

# The non-root user (same uid as the Dockerfile's); no home, no login shell.
grep -q '^sandbox:' "$ROOT/etc/group" || echo "sandbox:x:$SANDBOX_UID:" >> "$ROOT/etc/group"
grep -q '^sandbox:' "$ROOT/etc/passwd" \
    || echo "sandbox:x:$SANDBOX_UID:$SANDBOX_UID:verigen sandbox:/tmp:/usr/sbin/nologin" >> "$ROOT/etc/passwd"
install -d -m 0755 "$ROOT/opt/verigen"
install -m 0644 "$RUNNER" "$ROOT/opt/verigen/runner.py"

OLD_ID="$(docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)"
log "docker import -> $TAG (runner sha256 $RUNNER_SHA)"
tar -C "$ROOT" --numeric-owner -c . | docker import \
    --change "USER $SANDBOX_UID" \
    --change 'WORKDIR /tmp' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8' \
    --change 'LABEL org.opencontainers.image.title=verigen-sandbox-python' \
    --change "LABEL verigen.runner.sha256=$RUNNER_SHA" \
    --change 'CMD ["python3", "-I", "-u", "/opt/verigen/runner.py", "--isolated", "--wipe", "/tmp", "--wipe", "/dev/shm", "--wipe", "/dev/mqueue"]' \
    --message "verigen sandbox (debootstrap $SUITE, offline build)" \
    - "$TAG" >/dev/null
docker run --rm --network none "$TAG" python3 -c 'import json, resource, os; assert os.getuid() == 10001' \
    || die "the built image $TAG does not run python3 as uid $SANDBOX_UID"
NEW_ID="$(docker image inspect --format '{{.Id}}' "$TAG")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    # The previous build lost its tag; drop it unless a container still uses it.
    docker rmi "$OLD_ID" >/dev/null 2>&1 || true
fi
log "built $TAG ($(docker image inspect --format '{{.Size}}' "$TAG") bytes)"
echo "$TAG"
