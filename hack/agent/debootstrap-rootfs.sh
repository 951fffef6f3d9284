#!/usr/bin/env bash
# Builds a minimal Debian root filesystem with debootstrap (Debian's own bootstrap tool) into
# a cache outside the work tree, for the node agent's tests: a real dpkg database, written by
# dpkg itself. Reused when present; the folder name carries a version, bump it to rebuild.
#
#   hack/agent/debootstrap-rootfs.sh            prints the folder (builds it when missing)
#   DEBOOTSTRAP_MIRROR=<url> ...                 use another Debian mirror (default: debootstrap's)
#
# Needs root (debootstrap unpacks packages as root) and network access to a Debian mirror.
set -euo pipefail
suite=bookworm
variant=minbase
key=v1
cache="${KUBE_INSPECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-inspector}/rootfs"
dir="$cache/debian-$suite-$variant-$key"
if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi
command -v debootstrap >/dev/null || {
  echo "debootstrap is not installed (hack/install-debian-packages.sh installs it)" >&2
  exit 1
}
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.debian-$suite-XXXXXX")"
trap '"${sudo[@]}" rm -rf "$tmp"' EXIT
start=$(date +%s)
args=(--variant="$variant" "$suite" "$tmp/root")
if [[ -n "${DEBOOTSTRAP_MIRROR:-}" ]]; then args+=("$DEBOOTSTRAP_MIRROR"); fi
"${sudo[@]}" debootstrap "${args[@]}" >"$tmp/debootstrap.log" 2>&1 || {
  echo "debootstrap failed; its log:" >&2
  tail -20 "$tmp/debootstrap.log" >&2
  exit 1
}
echo "debootstrap took $(($(date +%s) - start)) s" >&2
"${sudo[@]}" mv "$tmp/root" "$dir"
"${sudo[@]}" touch "$dir/.complete"
echo "$dir"
