#!/usr/bin/env bash
# Installs what a fresh Debian machine of this kind lacks to build, test and run Lilypad:
# Debian's docker.io and busybox-static, a running Docker engine, and the npm packages; for the mesh tests
# nftables, iproute2 and procps' sysctl (network namespaces), nginx-light (the TLS proxy in front of WebSockets) and
# chromium (a browser joining the mesh).
# Idempotent: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { echo "setup: $*" >&2; }

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
[ -x /usr/sbin/nft ] || need_pkgs+=(nftables)
[ -x /usr/sbin/ip ] || need_pkgs+=(iproute2)
[ -x /usr/sbin/sysctl ] || need_pkgs+=(procps)
[ -x /usr/sbin/nginx ] || need_pkgs+=(nginx-light)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
[ -x /usr/bin/openssl ] || need_pkgs+=(openssl)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  as_root apt-get update -qq >/dev/null 2>&1 || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (vfs storage, no iptables, no bridge)"
  as_root sh -c 'nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >/tmp/lilypad-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /tmp/lilypad-dockerd.log"; exit 1; }
fi

# The lockfile lists every platform's optional packages, so npm ci works and leaves the clone unchanged.
if [ ! -x node_modules/.bin/node ] || [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
