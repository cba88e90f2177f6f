#!/bin/sh
# Entry point of the agent image: prepares what CRIU needs inside the pod, then execs bin/spore-agent "$@".
# Each step says what it found, so `kubectl logs` shows why a node cannot restore (docs/kubernetes.md).
set -eu
say() { echo "agent-entrypoint: $*" >&2; }

# CRIU caches its kernel probe in /run/criu.kdat only when /run is a tmpfs; on anything else it re-probes the
# kernel on every restore (~12 ms each, measured). The DaemonSet mounts an emptyDir of medium Memory there.
if [ "$(stat -f -c %T /run 2>/dev/null || echo none)" != tmpfs ]; then
  say "WARN /run is not a tmpfs: every restore re-probes the kernel (~12 ms); mount an emptyDir {medium: Memory} on /run"
fi

# Per-instance cgroups (SPORE_CGROUP_DELEGATE=1): with cgroup v2 and a private cgroup namespace (the default of
# containerd and CRI-O), /sys/fs/cgroup is this pod's own subtree, mounted read-only. With CAP_SYS_ADMIN the
# agent may remount it read-write: it then controls its own subtree only, so every instance counts against the
# pod's limits. cgroup v2 forbids processes in a cgroup whose controllers are delegated to children, so the
# agent first moves itself into a leaf, /sys/fs/cgroup/agent, and instance cgroups become its siblings.
if [ "${SPORE_CGROUP_DELEGATE:-0}" = 1 ]; then
  if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null || echo none)" != cgroup2fs ]; then
    say "ERROR SPORE_CGROUP_DELEGATE=1 needs cgroup v2 at /sys/fs/cgroup (found $(stat -f -c %T /sys/fs/cgroup 2>/dev/null || echo nothing)); unset it or run nodes with cgroup v2"
    exit 1
  fi
  mount -o remount,rw /sys/fs/cgroup 2>/dev/null \
    || { say "ERROR cannot remount /sys/fs/cgroup read-write: the pod needs CAP_SYS_ADMIN and AppArmor unconfined"; exit 1; }
  mkdir -p /sys/fs/cgroup/agent
  echo $$ > /sys/fs/cgroup/agent/cgroup.procs
  for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || say "WARN cannot delegate the $c controller"
  done
  say "cgroups: /sys/fs/cgroup delegated (controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control))"
fi

exec /opt/spore/bin/spore-agent "$@"
