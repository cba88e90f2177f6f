#!/usr/bin/env bash
# Installs Spore's CRIU into .spore/criu/bin/criu, idempotently, from Debian's packages only.
#
# Spore's CRIU is CRIU 4.x from Debian's own source package, built here with one patch of ours,
# scripts/criu/spore.patch (docs/images.md):
#   --mmap-pages        restore maps a snapshot's memory copy-on-write from its pages image instead of copying
#                       it in (quarkus-hello, 93 MiB: CRIU's share of a restore 60 ms -> 12 ms, measured);
#   --mmap-pages-copy   the pages a restored instance writes first (its recorded working set) are copied up
#                       front, while the task still has one thread;
#   --mmap-pages-read   the file pages its first request reads (libjvm.so's text, image pages) are mapped into
#                       its page tables up front, one madvise per run instead of a fault per page;
#   --no-breakpoints    tasks are stopped at the end of the restore by syscall tracing instead of a hardware
#                       breakpoint, whose debug register took ~10 ms to set in this VM.
#   --timens-dumped-at  restored clocks count the time a snapshot waited (docs/restore-uniqueness.md);
#   --dump-other-uids   dump a JVM of an unprivileged uid as a root without CAP_SYS_RESOURCE (some sandboxes and CI
#                       drop it): rlimits that prlimit64() refuses come from /proc/PID/limits, and CRIU mounts the
#                       PID namespace's /proc itself instead of the parasite (docs/isolation.md).
#
# Why a build and not a package: bookworm ships CRIU 3.17, which fails on recent kernels (vdso: Unexpected rt
# vDSO area bounds), and no package has --mmap-pages. The source is trixie's criu orig tarball, found through
# a private apt list (deb-src) made from the mirror this machine's apt already uses; its SHA-256 is checked
# against the signed index. Build dependencies come from the machine's own (bookworm) apt. The system's apt
# sources are not touched. Takes about a minute: ~20 s of compiling on 2 cores.
#
# Also mounts a tmpfs on /run when /run is not one, so CRIU can cache its kernel probe (/run/criu.kdat)
# instead of re-probing on every restore (~12 ms).
set -euo pipefail

HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
PREFIX="$HOME_DIR/.spore/criu"
PATCH="$HOME_DIR/scripts/criu/spore.patch"
BUILD_DEPS="build-essential pkg-config curl xz-utils patch libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev \
protobuf-compiler libcap-dev libnl-3-dev libnet1-dev uuid-dev libbsd-dev"

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

# a CRIU 4.x with the options of scripts/criu/spore.patch
criu_ok() {
  local v help
  v=$("$1" --version 2>/dev/null | sed -n 's/^Version: \([0-9]*\)\..*/\1/p')
  help=$("$1" --help 2>&1)
  [ -n "$v" ] && [ "$v" -ge 4 ] && grep -q -- '--mmap-pages-copy' <<<"$help" && grep -q -- '--mmap-pages-read' <<<"$help" && grep -q -- '--no-breakpoints' <<<"$help" && grep -q -- '--timens-dumped-at' <<<"$help" && grep -q -- '--dump-other-uids' <<<"$help"
}

build_criu() {
  # the Debian mirror this machine's apt uses (deb822 or one-line format)
  local mirror
  mirror=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
              grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for(i=2;i<=NF;i++) if ($i ~ /:\/\//) {print $i; break}}'; } \
            | grep -E '/debian/?$' | head -1) || true
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt (sources.list or sources.list.d): cannot fetch CRIU's source"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || die "missing $keyring (apt-get install debian-archive-keyring)"

  say "installing build dependencies: $BUILD_DEPS"
  # a fresh machine may have no (or stale) package lists: update once and retry before giving up
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $BUILD_DEPS >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $BUILD_DEPS >/dev/null; } \
    || die "apt-get install of CRIU's build dependencies failed: $BUILD_DEPS"

  local apt="$PREFIX/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [signed-by=$keyring] $mirror trixie main" > "$apt/sources.list"
  local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$apt/lists"
              -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root" -q)
  say "fetching trixie's source index from the configured mirror"
  apt-get "${opts[@]}" update >/dev/null || die "apt-get update of the private trixie source list failed"
  # 'URL' name size SHA256:hex, for the upstream tarball only (Debian's packaging is not needed)
  local line url name sha
  line=$(apt-get "${opts[@]}" --print-uris source criu 2>/dev/null | grep -E "criu_4\.[0-9.]+\.orig\.tar\.(xz|gz)'" | head -1) \
    || die "trixie's source index has no criu 4.x orig tarball"
  url=$(echo "$line" | awk '{print $1}' | tr -d "'")
  name=$(echo "$line" | awk '{print $2}')
  sha=$(echo "$line" | sed -n 's/.*SHA256:\([0-9a-f]*\).*/\1/p')
  [ -n "$sha" ] || die "no SHA-256 for $name in the source index"

  local src="$PREFIX/src"
  rm -rf "$src" && mkdir -p "$src"
  say "downloading $name"
  curl -fsS --retry 3 -o "$src/$name" "$url" || die "download of $name failed"
  echo "$sha  $src/$name" | sha256sum -c --quiet - || die "$name does not match the SHA-256 of the signed index"
  tar -xf "$src/$name" -C "$src"
  local dir
  dir=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'criu-*' | head -1)
  [ -n "$dir" ] || die "$name did not unpack into a criu-* directory"
  patch -d "$dir" -p1 --quiet < "$PATCH" || die "scripts/criu/spore.patch does not apply to $(basename "$dir") (written for 4.1.1)"
  say "building $(basename "$dir") with scripts/criu/spore.patch ($(nproc) jobs)"
  # Every restore execs CRIU, so it is linked for a fast start: no TLS (page-server encryption is not used)
  # and its libraries linked statically, only glibc dynamically: exec to exit 1.2 ms instead of 2.6-5 ms.
  make -C "$dir" -j"$(nproc)" NO_GNUTLS=1 \
    LIBS="-Wl,-Bstatic -lbsd -lmd -lprotobuf-c -lnl-3 -lnet -luuid -Wl,-Bdynamic -ldl -lsoccr -Lsoccr/" \
    criu > "$src/build.log" 2>&1 || die "CRIU build failed; see $src/build.log"
  mkdir -p "$PREFIX/bin"
  install -m 0755 "$dir/criu/criu" "$PREFIX/bin/criu.new"
  mv -f "$PREFIX/bin/criu.new" "$PREFIX/bin/criu"
  rm -rf "$src" "$apt/cache" "$PREFIX/root"   # root/: the unpacked trixie binaries of earlier versions
}

CRIU="$PREFIX/bin/criu"
if [ -x "$CRIU" ] && [ "$CRIU" -nt "$PATCH" ] && criu_ok "$CRIU"; then
  say "already installed: $("$CRIU" --version | head -1) with Spore's patch in $PREFIX/bin"
else
  build_criu
  criu_ok "$CRIU" || die "the built $CRIU does not run or lacks the options of scripts/criu/spore.patch: $("$CRIU" --version 2>&1 | head -3)"
  say "installed $("$CRIU" --version | head -1) with Spore's patch into $PREFIX/bin"
fi

mount_run_tmpfs
out=$("$CRIU" check 2>&1) || die "criu check failed: this kernel lacks what CRIU needs:
$out"
say "criu check: ${out##*$'\n'}"
