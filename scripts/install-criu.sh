#!/usr/bin/env bash
# Installs CRIU >= 4.0 for Spore, idempotently, from Debian's package registry only.
#
# Debian bookworm ships CRIU 3.17, which fails on recent kernels (vdso: Unexpected rt vDSO area bounds).
# Trixie's criu 4.1.1 works but needs glibc 2.38, so its .deb and those of its libraries are unpacked with
# dpkg-deb -x into a private prefix (.spore/criu/root) and run through that prefix's own dynamic loader
# (the agent does this; bin/criu does it for people). The system's apt setup is not touched: trixie's
# package list goes into a private apt state directory, from the mirror this machine's apt already uses.
#
# A system `criu` >= 4.0 is used instead when present. Also mounts a tmpfs on /run when /run is not one,
# so CRIU can cache its kernel probe (/run/criu.kdat) instead of re-probing on every restore (~12 ms).
set -euo pipefail

HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
PREFIX="$HOME_DIR/.spore/criu"
ROOT="$PREFIX/root"
LIBS="$ROOT/usr/lib/x86_64-linux-gnu"
PACKAGES="criu libcompel1 libc6 libgnutls30t64 libnftables1 libprotobuf-c1 libnl-3-200 libnet1 libbsd0 \
libxtables12 libnftnl11 libjansson4 libmnl0 libp11-kit0 libidn2-0 libunistring5 libtasn1-6 libnettle8t64 \
libhogweed6t64 libgmp10 libffi8 libmd0 libuuid1"

say() { printf 'install-criu: %s\n' "$*"; }
die() { printf 'install-criu: ERROR %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root: CRIU needs CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE (and this script mounts /run)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (found $(uname -m))"

mount_run_tmpfs() {
  local fs
  fs=$(stat -f -c %T /run 2>/dev/null || echo none)
  if [ "$fs" != tmpfs ]; then
    # keep what is there: tmpfs on /run is what every systemd-booted Debian has anyway
    local keep
    keep=$(mktemp -d)
    cp -a /run/. "$keep"/ 2>/dev/null || true
    mount -t tmpfs -o mode=0755,size=64m tmpfs /run || die "cannot mount a tmpfs on /run (CRIU's kdat cache would be lost)"
    cp -a "$keep"/. /run/ 2>/dev/null || true
    rm -rf "$keep"
    say "mounted tmpfs on /run for CRIU's kernel-probe cache"
  fi
}

system_criu_ok() {
  command -v criu >/dev/null 2>&1 || return 1
  local v
  v=$(criu --version 2>/dev/null | sed -n 's/^Version: \([0-9]*\)\..*/\1/p')
  [ -n "$v" ] && [ "$v" -ge 4 ]
}

run_prefix_criu() {
  "$LIBS/ld-linux-x86-64.so.2" --library-path "$LIBS" "$ROOT/usr/sbin/criu" "$@"
}

if system_criu_ok; then
  say "using system $(command -v criu) ($(criu --version | head -1))"
  mount_run_tmpfs
  exit 0
fi

if [ -x "$ROOT/usr/sbin/criu" ] && run_prefix_criu --version >/dev/null 2>&1; then
  say "already installed: $(run_prefix_criu --version | head -1) in $PREFIX"
else
  # the Debian mirror this machine's apt uses (deb822 or one-line format)
  MIRROR=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
              grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for(i=2;i<=NF;i++) if ($i ~ /:\/\//) {print $i; break}}'; } \
            | grep -E '/debian/?$' | head -1) || true
  [ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt (sources.list or sources.list.d): cannot fetch trixie's criu"
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$KEYRING" ] || die "missing $KEYRING (apt-get install debian-archive-keyring)"
  APT="$PREFIX/apt"
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$PREFIX/debs"
  echo "deb [signed-by=$KEYRING] $MIRROR trixie main" > "$APT/sources.list"
  OPTS=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$APT/lists"
        -o "Dir::Cache=$APT/cache" -o "APT::Sandbox::User=root" -q)
  say "fetching trixie package list from the configured mirror"
  apt-get "${OPTS[@]}" update >/dev/null || die "apt-get update of the private trixie list failed"
  say "downloading criu 4.x and its libraries"
  (cd "$PREFIX/debs" && apt-get "${OPTS[@]}" download $PACKAGES >/dev/null) || die "download of $PACKAGES failed"
  rm -rf "$ROOT.new" && mkdir -p "$ROOT.new"
  for deb in "$PREFIX"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT.new"; done
  rm -rf "$ROOT" && mv "$ROOT.new" "$ROOT"
  rm -rf "$PREFIX/debs" "$APT/cache"
  run_prefix_criu --version >/dev/null 2>&1 || die "unpacked criu does not run: $(run_prefix_criu --version 2>&1 | head -3)"
  say "installed $(run_prefix_criu --version | head -1) into $PREFIX"
fi

mkdir -p "$PREFIX/bin"
cat > "$PREFIX/bin/criu" <<WRAP
#!/bin/sh
exec "$LIBS/ld-linux-x86-64.so.2" --library-path "$LIBS" "$ROOT/usr/sbin/criu" "\$@"
WRAP
chmod +x "$PREFIX/bin/criu"
mount_run_tmpfs
out=$(run_prefix_criu check 2>&1) || die "criu check failed: this kernel lacks what CRIU needs:
$out"
say "criu check: ${out##*$'\n'}"
