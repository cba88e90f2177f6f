#!/usr/bin/env bash
# A real Spore cluster on this one machine: the gateway, the snapshot store and N agents (default 2), each in
# its own network namespace AND its own mount namespace, joined by a bridge. Nothing of one node's paths is
# visible to another: each has a private /tmp, /run, /dev/shm and its own /var/lib/spore; the OS, /usr/lib/jvm
# and the Spore checkout (the installed software) are shared, as on a real fleet.
#
#   scripts/cluster.sh up [--nodes N]     start everything (idempotent: refuses if already up)
#   scripts/cluster.sh status [--json]    processes, addresses, and the gateway's view of the nodes
#   scripts/cluster.sh down               stop everything, remove namespaces, bridge and state
#   scripts/cluster.sh stop-agent NAME    kill one agent (SIGKILL: a node that dies, not one that drains)
#   scripts/cluster.sh start-agent NAME   start it again in its namespaces (it re-registers by heartbeat)
#   scripts/cluster.sh exec NAME CMD...   run a command inside a node's namespaces (debugging, tests)
#
# Environment: SPORE_CLUSTER_DIR (state, default /var/tmp/spore-cluster), SPORE_CLUSTER_NET (a /24 prefix used
# only inside these namespaces and on the bridge, default 10.214.0), SPORE_CLUSTER_BRIDGE (default sporebr0).
# Node names are a, b, c, ...; the gateway is http://NET.2:8080, the store tcp://NET.3:7420, node a NET.11, ...
# Secrets (API/cluster token, a CA and one certificate per component) are generated with openssl into
# STATE/secrets (0700) on `up` and deleted on `down`.
set -euo pipefail
HOME_DIR=$(cd "$(dirname "$0")/.." && pwd)
STATE=${SPORE_CLUSTER_DIR:-/var/tmp/spore-cluster}
NET=${SPORE_CLUSTER_NET:-10.214.0}
BR=${SPORE_CLUSTER_BRIDGE:-sporebr0}
GW_IP=$NET.2
STORE_IP=$NET.3
GW_PORT=8080
STORE_PORT=7420
AGENT_PORT=7430
say() { printf 'cluster: %s\n' "$*" >&2; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

node_ip() { # a -> NET.11, b -> NET.12, ...
  local n; n=$(printf '%d' "'$1"); echo "$NET.$((n - 97 + 11))"
}
node_names() { ls "$STATE/run/pids" 2>/dev/null | sed -n 's/^agent-\(.*\)\.pid$/\1/p' | sort; }

require() {
  [ "$(id -u)" = 0 ] || die "needs root (network and mount namespaces, CRIU)"
  for c in ip unshare nsenter openssl java keytool; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' is missing: run \`bash scripts/setup.sh\` first"
  done
  [ -f "$HOME_DIR/runtime/agent/target/spore-agent-0.1.0-SNAPSHOT.jar" ] || ls "$HOME_DIR"/runtime/agent/target/spore-agent-*.jar >/dev/null 2>&1 \
    || die "not built: run \`bash scripts/setup.sh\` (or mvn -q package -DskipTests) in $HOME_DIR"
}

# --- secrets -------------------------------------------------------------------------------------------------
make_secrets() {
  local s=$STATE/secrets
  mkdir -p "$s" && chmod 0700 "$s"
  [ -f "$s/ca.pem" ] && return 0
  openssl rand -hex 32 > "$s/cluster.token"         # agents -> gateway heartbeats, gateway -> agents
  openssl rand -hex 32 > "$s/api.token"             # people and scripts -> the gateway's API (all roles)
  printf '%s deploy invoke read admin\n' "$(cat "$s/api.token")" > "$s/api.tokens"   # the gateway's tokens file
  # the cluster's publisher key (Ed25519, PKCS#8): agents sign the snapshots they publish and trust it on fetch
  openssl genpkey -algorithm ed25519 -out "$s/publisher.key" 2>/dev/null
  openssl pkey -in "$s/publisher.key" -pubout -out "$s/publisher.key.pub" 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=spore-cluster-ca" \
    -keyout "$s/ca.key" -out "$s/ca.pem" 2>/dev/null
  local who
  for who in gateway store "$@"; do
    local ip
    case $who in gateway) ip=$GW_IP ;; store) ip=$STORE_IP ;; *) ip=$(node_ip "$who") ;; esac
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=spore-$who" \
      -keyout "$s/$who.key" -out "$s/$who.csr" 2>/dev/null
    printf 'subjectAltName=IP:%s,IP:127.0.0.1,DNS:spore-%s,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' "$ip" "$who" > "$s/$who.ext"
    openssl x509 -req -in "$s/$who.csr" -CA "$s/ca.pem" -CAkey "$s/ca.key" -CAcreateserial -days 2 \
      -extfile "$s/$who.ext" -out "$s/$who.pem" 2>/dev/null
    # PKCS#8, which both the JDK and Netty read
    openssl pkcs8 -topk8 -nocrypt -in "$s/$who.key" -out "$s/$who.key.p8" && mv "$s/$who.key.p8" "$s/$who.key"
    rm -f "$s/$who.csr" "$s/$who.ext"
  done
  # the agents' heartbeat client (the JDK's HTTPS) trusts the cluster CA through a PKCS#12 trust store
  keytool -importcert -noprompt -alias spore-cluster-ca -file "$s/ca.pem" -keystore "$s/ca.p12" \
    -storetype PKCS12 -storepass spore-cluster >/dev/null 2>&1
  chmod 0600 "$s"/*
}

# --- hosts: one network namespace + one persistent mount namespace each ---------------------------------------
make_bridge() {
  ip link show "$BR" >/dev/null 2>&1 && return 0
  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
}

make_host() { # NAME IP
  local name=$1 ip=$2 ns=spore-$1
  ip netns add "$ns"
  echo "$name" >> "$STATE/run/hosts"
  ip link add "spv-$name" type veth peer name "spp-$name"
  ip link set "spp-$name" master "$BR" up
  ip link set "spv-$name" netns "$ns"
  ip -n "$ns" addr add "$ip/24" dev "spv-$name"
  ip -n "$ns" link set "spv-$name" up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via "$NET.1" dev "spv-$name"

  # the mount namespace lives as long as its bind mount in STATE/run/mnt, so an agent can die and start again in it
  mkdir -p "$STATE/nodes/$name" "$STATE/run/mnt" /var/lib/spore
  touch "$STATE/run/mnt/$name"
  # CRIU lives in the checkout's .spore/, next to other local data: keep CRIU, hide the rest
  unshare --mount="$STATE/run/mnt/$name" --propagation private /bin/sh -ec "
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/spore-criu && mount --bind '$HOME_DIR/.spore/criu' /run/spore-criu
    mount -t tmpfs -o mode=0700 tmpfs '$HOME_DIR/.spore'
    mkdir -p '$HOME_DIR/.spore/criu' && mount --move /run/spore-criu '$HOME_DIR/.spore/criu'
    mount --bind '$STATE/nodes/$name' /var/lib/spore
    mount -t tmpfs -o mode=0755 tmpfs '$STATE/nodes'
    mkdir -p /etc/spore && mount --bind '$STATE/secrets' /etc/spore
  "
}

# runs "$@" detached in host NAME's namespaces; its output goes to STATE/logs/NAME.log (outside every node)
start_in() { # NAME ROLE CMD...
  local name=$1 role=$2; shift 2
  mkdir -p "$STATE/logs" "$STATE/run/pids"
  nsenter --net="/run/netns/spore-$name" --mount="$STATE/run/mnt/$name" -- \
    setsid "$@" >> "$STATE/logs/$role.log" 2>&1 < /dev/null &
  echo $! > "$STATE/run/pids/$role.pid"
}

in_host() { # NAME CMD...
  local name=$1; shift
  nsenter --net="/run/netns/spore-$name" --mount="$STATE/run/mnt/$name" -- "$@"
}

alive() { [ -f "$STATE/run/pids/$1.pid" ] && kill -0 "$(cat "$STATE/run/pids/$1.pid")" 2>/dev/null; }

wait_port() { # HOST-NAME IP PORT ROLE SECONDS
  local deadline=$(( $(date +%s) + $5 ))
  while ! in_host "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; do
    alive "$4" || die "$4 exited during start-up; its log ends with:
$(tail -n 15 "$STATE/logs/$4.log" 2>/dev/null)"
    [ "$(date +%s)" -lt "$deadline" ] || die "$4 did not listen on $2:$3 within $5 s; see $STATE/logs/$4.log"
    sleep 0.2
  done
}

start_store() {
  start_in store store env SPORE_STORE_JAVA_OPTS="${SPORE_STORE_JAVA_OPTS:--XX:MaxDirectMemorySize=2g}" \
    "$HOME_DIR/snapshot-store/bin/spore-store" serve --bind "$STORE_IP" --port "$STORE_PORT" \
    --data-dir /var/lib/spore/store --memory 1g \
    --token-file /etc/spore/cluster.token --tls-cert /etc/spore/store.pem --tls-key /etc/spore/store.key --tls-ca /etc/spore/ca.pem
}

start_gateway() {
  start_in gateway gateway env SPORE_JAVA_OPTS="${SPORE_GATEWAY_JAVA_OPTS:-}" \
    "$HOME_DIR/bin/spore" gateway --bind "$GW_IP" --port "$GW_PORT" --data /var/lib/spore/gateway \
    --store "tcp://$STORE_IP:$STORE_PORT" --cluster-token-file /etc/spore/cluster.token \
    --api-tokens-file /etc/spore/api.tokens --tls-cert /etc/spore/gateway.pem --tls-key /etc/spore/gateway.key \
    --tls-ca /etc/spore/ca.pem
}

start_agent() { # NAME
  local name=$1
  # every agent signs with the cluster's publisher key and trusts it on fetch; its seal key (node copies) is its
  # own, under its private /var/lib/spore; the store client takes its token and TLS files from SPORE_STORE_*;
  # the heartbeat (the JDK's HTTPS client) trusts the cluster CA
  local trust="-Djavax.net.ssl.trustStore=/etc/spore/ca.p12 -Djavax.net.ssl.trustStorePassword=spore-cluster"
  trust="$trust -Djavax.net.ssl.trustStoreType=PKCS12 -Dspore.store.keys=/var/lib/spore/keys"
  trust="$trust -Dspore.store.signing-key=/etc/spore/publisher.key -Dspore.store.trusted-keys=/etc/spore/publisher.key.pub"
  start_in "$name" "agent-$name" env SPORE_JAVA_OPTS="$trust ${SPORE_AGENT_JAVA_OPTS:-}" \
    SPORE_STORE_TOKEN_FILE=/etc/spore/cluster.token SPORE_STORE_TLS_CA=/etc/spore/ca.pem \
    SPORE_STORE_TLS_CERT="/etc/spore/$name.pem" SPORE_STORE_TLS_KEY="/etc/spore/$name.key" \
    "$HOME_DIR/bin/spore-agent" serve --name "$name" --bind "$(node_ip "$name")" --port "$AGENT_PORT" \
    --data-dir /var/lib/spore/agent --store "tcp://$STORE_IP:$STORE_PORT" --gateway "https://$GW_IP:$GW_PORT" \
    --token-file /etc/spore/cluster.token --tls-cert "/etc/spore/$name.pem" --tls-key "/etc/spore/$name.key" \
    --tls-ca /etc/spore/ca.pem --max-restores "${SPORE_CLUSTER_MAX_RESTORES:-4}" --advertise "$(node_ip "$name"):$AGENT_PORT"
}

stop_pid() { # ROLE SIGNAL
  local f=$STATE/run/pids/$1.pid
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  kill "-$2" -- "-$pid" 2>/dev/null || kill "-$2" "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$f"
}

cmd_up() {
  local nodes=2
  while [ $# -gt 0 ]; do
    case $1 in --nodes) nodes=$2; shift 2 ;; *) die "unknown option $1 (up [--nodes N])" ;; esac
  done
  [ "$nodes" -ge 1 ] && [ "$nodes" -le 8 ] || die "--nodes $nodes: use 1..8"
  require
  [ -s "$STATE/run/hosts" ] && die "already up (scripts/cluster.sh status; scripts/cluster.sh down)"
  local names=() i
  for i in $(seq 0 $((nodes - 1))); do names+=("$(printf "\\$(printf '%03o' $((97 + i)))")"); done
  mkdir -p "$STATE/run" && chmod 0700 "$STATE"
  # the mount namespaces' anchors must sit on a private mount, or they propagate back
  if ! mountpoint -q "$STATE/run"; then mount --bind "$STATE/run" "$STATE/run"; mount --make-private "$STATE/run"; fi
  make_secrets "${names[@]}"
  make_bridge
  make_host gateway "$GW_IP"
  make_host store "$STORE_IP"
  for i in "${names[@]}"; do make_host "$i" "$(node_ip "$i")"; done
  say "starting store on $STORE_IP:$STORE_PORT"
  start_store
  wait_port store "$STORE_IP" "$STORE_PORT" store 60
  say "starting gateway on $GW_IP:$GW_PORT"
  start_gateway
  wait_port gateway "$GW_IP" "$GW_PORT" gateway 90
  for i in "${names[@]}"; do
    say "starting agent $i on $(node_ip "$i"):$AGENT_PORT"
    start_agent "$i"
  done
  for i in "${names[@]}"; do wait_port "$i" "$(node_ip "$i")" "$AGENT_PORT" "agent-$i" 60; done
  say "up: gateway https://$GW_IP:$GW_PORT (token: $STATE/secrets/api.token), store tcp://$STORE_IP:$STORE_PORT, nodes ${names[*]}"
  say "try: SPORE_GATEWAY=https://$GW_IP:$GW_PORT SPORE_CACERT=$STATE/secrets/ca.pem SPORE_TOKEN=\$(cat $STATE/secrets/api.token) bin/spore nodes"
}

cmd_down() {
  local role
  for f in "$STATE"/run/pids/*.pid; do
    [ -e "$f" ] || continue
    role=$(basename "$f" .pid)
    stop_pid "$role" TERM
  done
  local h
  for h in $(cat "$STATE/run/hosts" 2>/dev/null); do
    # whatever still runs in a node (restored instances, CRIU) goes with it
    ip netns pids "spore-$h" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "spore-$h" 2>/dev/null || true
    ip link del "spp-$h" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
  if [ -d "$STATE/run/mnt" ]; then
    for m in "$STATE"/run/mnt/*; do [ -e "$m" ] && umount "$m" 2>/dev/null || true; done
  fi
  mountpoint -q "$STATE/run" 2>/dev/null && umount "$STATE/run" || true
  rm -rf "$STATE"
  say "down"
}

cmd_status() {
  local json=false
  [ "${1:-}" = --json ] && json=true
  if [ ! -s "$STATE/run/hosts" ]; then
    $json && echo '{"up":false}' || say "down"
    return 0
  fi
  if $json; then
    printf '{"up":true,"gateway":"https://%s:%s","store":"tcp://%s:%s","processes":{' "$GW_IP" "$GW_PORT" "$STORE_IP" "$STORE_PORT"
    local first=1 f role
    for f in "$STATE"/run/pids/*.pid; do
      role=$(basename "$f" .pid)
      [ $first = 1 ] || printf ','; first=0
      printf '"%s":%s' "$role" "$(alive "$role" && echo true || echo false)"
    done
    printf '}}\n'
    return 0
  fi
  printf '%-10s %-8s %-18s %s\n' ROLE STATE ADDRESS LOG
  local f role addr
  for f in "$STATE"/run/pids/*.pid; do
    role=$(basename "$f" .pid)
    case $role in gateway) addr=$GW_IP:$GW_PORT ;; store) addr=$STORE_IP:$STORE_PORT ;; agent-*) addr=$(node_ip "${role#agent-}"):$AGENT_PORT ;; esac
    printf '%-10s %-8s %-18s %s\n' "$role" "$(alive "$role" && echo running || echo stopped)" "$addr" "$STATE/logs/$role.log"
  done
  SPORE_GATEWAY="https://$GW_IP:$GW_PORT" SPORE_CACERT="$STATE/secrets/ca.pem" SPORE_TOKEN="$(cat "$STATE/secrets/api.token" 2>/dev/null)" \
    "$HOME_DIR/bin/spore" nodes 2>&1 || true
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) shift; cmd_status "$@" ;;
  stop-agent) [ -n "${2:-}" ] || die "stop-agent NAME"; stop_pid "agent-$2" KILL; say "agent $2 killed" ;;
  start-agent) [ -n "${2:-}" ] || die "start-agent NAME"; require; alive "agent-$2" && die "agent $2 is running"
               start_agent "$2"; wait_port "$2" "$(node_ip "$2")" "$AGENT_PORT" "agent-$2" 60; say "agent $2 started" ;;
  exec) [ -n "${2:-}" ] || die "exec NAME CMD..."; n=$2; shift 2; in_host "$n" "$@" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
