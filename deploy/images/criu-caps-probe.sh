#!/usr/bin/env bash
# Proves that the capabilities the agent DaemonSet grants (deploy/kubernetes/agent-daemonset.yaml) are enough
# for CRIU, under the conditions of a non-privileged pod: a private mount namespace whose /proc/sys is read-only
# (container runtimes mount it so), and a capability bounding set of exactly CAPS. It runs `criu check`, then
# dumps and restores a process tree shaped like a Spore instance (init of its own PID namespace, session leader,
# pipes for stdio) and checks that the restored process runs. Exit 0 when the dump and the restore passed.
#
#   deploy/images/criu-caps-probe.sh [CRIU] [--caps LIST] [--without CAP] [--java]
#
# --without CAP drops one capability from the list, to see what breaks without it (docs/kubernetes.md lists
# the results); --java dumps a sleeping JVM (java on the PATH) instead of sleep(1). Run as root, on a node or in the agent image (chroot): it starts and kills only its own
# processes and leaves its work directory removed.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/../.." && pwd)
CRIU=$HOME_DIR/.spore/criu/bin/criu
# keep in sync with the agent DaemonSet's securityContext.capabilities.add (lower case, no CAP_ prefix)
CAPS=sys_admin,net_admin,sys_time,setpcap,sys_chroot,checkpoint_restore,sys_ptrace,setuid,setgid,dac_override,chown,kill
WITHOUT= TARGET=sleep
while [ $# -gt 0 ]; do
  case "$1" in
    --caps) CAPS=$2; shift ;;
    --without) WITHOUT=$2; shift ;;
    --java) TARGET=java ;;
    -*) echo "criu-caps-probe: unknown option $1 (use [CRIU] [--caps LIST] [--without CAP])" >&2; exit 2 ;;
    *) CRIU=$1 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "criu-caps-probe: must run as root" >&2; exit 2; }
[ -x "$CRIU" ] || { echo "criu-caps-probe: no CRIU at $CRIU: bash scripts/install-criu.sh, or pass its path" >&2; exit 2; }
if [ -n "$WITHOUT" ]; then
  CAPS=$(tr ',' '\n' <<<"$CAPS" | grep -vx "$WITHOUT" | paste -sd,)
fi
BOUND="-all,+${CAPS//,/,+}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# everything below runs in a private mount namespace with /proc/sys read-only and the reduced bounding set;
# root execs get exactly the bounding set as their permitted and effective capabilities
if [ "$TARGET" = java ]; then
  printf 'class Sleeper { public static void main(String[] a) throws Exception { Thread.sleep(600_000); } }\n' >"$WORK/Sleeper.java"
  javac -d "$WORK" "$WORK/Sleeper.java"
  TARGET="java -XX:+UseSerialGC -Xshare:off -XX:-UsePerfData -cp $WORK Sleeper"
else
  TARGET="sleep 600"
fi
unshare --mount --propagation private bash -s "$CRIU" "$WORK" "$BOUND" "$TARGET" <<'EOF'
set -uo pipefail
CRIU=$1 WORK=$2 BOUND=$3 TARGET=$4
# fds inherited from the caller were opened in the parent mount namespace, which CRIU cannot resolve here
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done
mount -o bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
# CRIU keeps its kernel probe on tmpfs (/run in the pod is an emptyDir of medium Memory)
mount -t tmpfs -o size=16m tmpfs /run
caps() { setpriv --bounding-set="$BOUND" --inh-caps=-all -- "$@"; }
rc=0
echo "caps: ${BOUND}"
# `criu check` also insists on a writable ns_last_pid, which restores do not use on kernels with clone3(set_tid)
# (5.5+): its verdict is printed, not counted
if out=$(caps "$CRIU" check 2>&1); then echo "criu check: ok"; else echo "criu check: not clean (not counted): $(grep -m2 Error <<<"$out")"; fi
# an instance-shaped tree, started under the same bounding set as everything in the pod: session leader and
# init of a new PID namespace (stdio closed: Spore's instances use pipes, which CRIU handles the same way)
setpriv --bounding-set="$BOUND" --inh-caps=-all -- unshare --pid --fork setsid $TARGET <&- >&- 2>&- &
leader=$!
sleep 1.5
ns_init=$(cut -d" " -f1 "/proc/$leader/task/$leader/children" 2>/dev/null)
[ -n "$ns_init" ] || { echo "probe: cannot find the PID namespace's init"; kill -9 "$leader" 2>/dev/null; exit 1; }
mkdir "$WORK/img"
if caps "$CRIU" dump -t "$ns_init" -D "$WORK/img" -o dump.log >/dev/null 2>&1; then
  echo "criu dump: ok"; dumped=1
else
  echo "criu dump: FAILED: $(grep -m3 Error "$WORK/img/dump.log")"; rc=1
  kill -9 "$ns_init" 2>/dev/null
fi
wait "$leader" 2>/dev/null
if [ "${dumped:-0}" = 1 ]; then
  if caps "$CRIU" restore -D "$WORK/img" -o restore.log -d --pidfile "$WORK/pid" >/dev/null 2>&1; then
    pid=$(cat "$WORK/pid")
    sleep 1
    if kill -0 "$pid" 2>/dev/null; then echo "criu restore: ok (pid $pid runs)"; else echo "criu restore: FAILED: restored task died"; rc=1; fi
    kill -9 "$pid" 2>/dev/null
  else
    echo "criu restore: FAILED: $(grep -m3 Error "$WORK/img/restore.log")"; rc=1
  fi
fi
exit $rc
EOF
