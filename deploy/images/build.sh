#!/usr/bin/env bash
# Builds Spore's container images (gateway, store, agent) as OCI image layouts from Debian's packages only:
# no base image is pulled. See docs/kubernetes.md ("Images").
#
#   deploy/images/build.sh [gateway|store|agent|all] --out DIR [--tar] [--tag TAG]
#
# How: `debootstrap --variant=minbase` makes a bookworm root filesystem with openjdk-17-jre-headless (once; it
# is cached as a tar under $SPORE_IMAGE_CACHE, default /var/cache/spore-images), `umoci` turns it into the
# base layer of an OCI layout at DIR, and each component adds one layer with its jars and scripts under
# /opt/spore (the layout of a Spore checkout, so bin/* find their jars as they do in a checkout). The three
# images share the base layer blob. --tar also writes DIR/spore-<component>.tar (an oci-archive, via skopeo)
# for `skopeo copy oci-archive:...` into a registry or `ctr -n k8s.io images import`.
#
# Needs: root (debootstrap chroots, files keep their owners), debootstrap, umoci, skopeo (for --tar), and the
# jars built first (`mvn -q -B package -DskipTests`). The agent also needs Spore's CRIU (.spore/criu/bin/criu,
# `bash scripts/install-criu.sh`). Not part of CI: it downloads ~60 MB of packages and takes minutes.
#
# The Debian mirror is the one this machine's apt already uses (read from /etc/apt), never a name written here.
set -euo pipefail

HOME_DIR=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${SPORE_IMAGE_CACHE:-/var/cache/spore-images}
SUITE=bookworm
BASE_PACKAGES=openjdk-17-jre-headless,ca-certificates
APP_UID=10001   # the non-root user of the gateway and store images

say() { printf 'build-images: %s\n' "$*"; }
die() { printf 'build-images: ERROR %s\n' "$*" >&2; exit 1; }
usage() { die "usage: deploy/images/build.sh [gateway|store|agent|all] --out DIR [--tar] [--tag TAG] (got: $*)"; }

WHAT=all OUT= TAR=0 TAG=${SPORE_IMAGE_TAG:-0.1.0}
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    gateway|store|agent|all) WHAT=$1 ;;
    --out) [ $# -ge 2 ] || usage "${ARGS[@]}"; OUT=$2; shift ;;
    --tar) TAR=1 ;;
    --tag) [ $# -ge 2 ] || usage "${ARGS[@]}"; TAG=$2; shift ;;
    *) usage "${ARGS[@]}" ;;
  esac
  shift
done
[ -n "$OUT" ] || usage "${ARGS[@]}"
[ "$(id -u)" = 0 ] || die "must run as root: debootstrap chroots and the image files keep their owners (root, uid $APP_UID)"
for tool in debootstrap umoci; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y debootstrap umoci skopeo"
done
[ "$TAR" = 0 ] || command -v skopeo >/dev/null || die "--tar needs skopeo: apt-get install -y skopeo"
[ "$WHAT" = all ] && COMPONENTS=(store gateway agent) || COMPONENTS=("$WHAT")

# the files each image takes from the checkout, relative to it (globs); a missing one stops the build
files_of() {
  case "$1" in
    gateway) echo "bin/spore gateway/target/spore-gateway-*.jar gateway/target/quarkus-app" ;;
    store)   echo "snapshot-store/bin/spore-store snapshot-store/target/spore-snapshot-store-*.jar snapshot-store/target/lib" ;;
    # the agent launches function JVMs with the host jar on their class path and runs CRIU
    agent)   echo "bin/spore-agent runtime/agent/target/spore-agent-*.jar runtime/agent/target/lib \
runtime/host/target/spore-host-*.jar runtime/host/target/host-classpath .spore/criu/bin/criu \
deploy/images/criu-caps-probe.sh deploy/images/agent-entrypoint.sh" ;;
  esac
}

check_inputs() {
  local c=$1 f
  for f in $(files_of "$c"); do
    compgen -G "$HOME_DIR/$f" >/dev/null \
      || die "image=$c: $HOME_DIR/$f is missing: build first (\`mvn -q -B package -DskipTests\`; for the agent also \`bash scripts/install-criu.sh\`)"
  done
}

# the Debian mirror this machine's apt uses (deb822 or one-line format), as scripts/install-criu.sh finds it
mirror() {
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '{for(i=2;i<=NF;i++) if ($i ~ /:\/\//) {print $i; break}}'; } | grep -E '/debian/?$' | head -1
}

# bookworm minbase + JRE, as an uncompressed tar (the base layer); cached by suite and package list
base_tar() {
  local key tarball root m
  key=$(printf '%s %s' "$SUITE" "$BASE_PACKAGES" | sha256sum | cut -c1-12)
  tarball="$CACHE/base-$SUITE-$key.tar"
  if [ -s "$tarball" ]; then echo "$tarball"; return; fi
  m=$(mirror) || true
  [ -n "$m" ] || die "no Debian mirror found in /etc/apt (sources.list or sources.list.d): debootstrap needs one"
  mkdir -p "$CACHE"
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  say "debootstrap $SUITE (minbase + $BASE_PACKAGES) into $root: a few minutes" >&2
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$root" "$m" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
  # users: `spore` (uid $APP_UID) runs the gateway and the store; the agent stays root (CRIU)
  chroot "$root" groupadd -g "$APP_UID" spore
  chroot "$root" useradd -u "$APP_UID" -g "$APP_UID" -d /var/lib/spore -M -s /usr/sbin/nologin spore
  # what a container never needs: package caches, lists, docs, man pages
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  # debootstrap may leave mounts behind on failure paths; none may end up in the layer
  for mp in proc sys dev/pts dev; do mountpoint -q "$root/$mp" && umount -l "$root/$mp" || true; done
  chmod 0755 "$root"   # mktemp made it 0700: as the layer's "/", that would lock every non-root user out
  tar --numeric-owner --xattrs -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$root" "$root.log"
  echo "$tarball"
}

# one layer with /opt/spore/<files> and the component's data directory
component_tar() {
  local c=$1 stage f
  stage=$(mktemp -d)
  mkdir -p "$stage/opt/spore" "$stage/var/lib/spore/$c" "$stage/etc/spore"
  (cd "$HOME_DIR" && for f in $(files_of "$c"); do
     for g in $f; do cp -a --parents "$g" "$stage/opt/spore/"; done
   done)
  if [ "$c" != agent ]; then chown -R "$APP_UID:$APP_UID" "$stage/var/lib/spore"; fi
  chmod -R a+rX "$stage/opt/spore"
  chmod 0755 "$stage"   # the layer's "/" (mktemp made it 0700)
  tar --numeric-owner -C "$stage" -cf "$stage.tar" . && rm -rf "$stage"
  echo "$stage.tar"
}

configure() {
  local c=$1 ref="$OUT:$1-$TAG"
  local common=(--config.env "SPORE_HOME=/opt/spore" --config.env "PATH=/opt/spore/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --config.label "org.opencontainers.image.title=spore-$c" --config.label "org.opencontainers.image.version=$TAG"
    --config.workingdir /var/lib/spore/$c --no-history)
  case "$c" in
    gateway) umoci config --image "$ref" "${common[@]}" --config.user "$APP_UID:$APP_UID" --config.exposedports 8080/tcp \
               --config.entrypoint /opt/spore/bin/spore --config.cmd gateway ;;
    store)   umoci config --image "$ref" "${common[@]}" --config.user "$APP_UID:$APP_UID" --config.exposedports 7420/tcp \
               --config.entrypoint /opt/spore/snapshot-store/bin/spore-store --config.cmd serve ;;
    # root: CRIU restores processes of any uid and needs CAP_SYS_ADMIN & co. (docs/kubernetes.md)
    agent)   umoci config --image "$ref" "${common[@]}" --config.user 0:0 --config.exposedports 7430/tcp \
               --config.entrypoint /opt/spore/deploy/images/agent-entrypoint.sh --config.cmd serve ;;
  esac
}

for c in "${COMPONENTS[@]}"; do check_inputs "$c"; done
BASE=$(base_tar)
if [ ! -f "$OUT/index.json" ]; then
  [ ! -e "$OUT" ] || rmdir "$OUT" 2>/dev/null || die "--out $OUT exists and is not an OCI layout: give a new or empty directory"
  umoci init --layout "$OUT"
fi
umoci new --image "$OUT:base-$TAG" 2>/dev/null || true   # already there on a rebuild: the blob is shared anyway
if ! umoci stat --image "$OUT:base-$TAG" 2>/dev/null | grep -q 'debootstrap'; then
  umoci raw add-layer --image "$OUT:base-$TAG" --history.created_by "debootstrap $SUITE minbase + $BASE_PACKAGES" "$BASE"
fi
for c in "${COMPONENTS[@]}"; do
  say "image=$c: adding its layer"
  layer=$(component_tar "$c")
  umoci raw add-layer --image "$OUT:base-$TAG" --tag "$c-$TAG" --history.created_by "spore $c files under /opt/spore" "$layer"
  rm -f "$layer"
  configure "$c"
  if [ "$TAR" = 1 ]; then
    rm -f "$OUT/spore-$c.tar"
    skopeo copy -q "oci:$OUT:$c-$TAG" "oci-archive:$OUT/spore-$c.tar:spore/$c:$TAG"
  fi
done
umoci gc --layout "$OUT"
say "done: $OUT (refs: $(for c in "${COMPONENTS[@]}"; do printf '%s-%s ' "$c" "$TAG"; done)); size $(du -sh "$OUT" | cut -f1)"
