#!/usr/bin/env bash
# A Docker Swarm of N nodes on this one machine, for the Swarm target's tests: a bridge in the root network
# namespace and, per node, a network namespace (veth into the bridge), its own UTS namespace (hostname),
# dockerd with its own data-root, exec-root, pidfile, socket and cgroup parent. All nodes are managers (a
# quorum survives the loss of one), one is labelled for the database, the others for the edge, and the
# project's images are loaded into every node. Idempotent; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/swarm-lab.sh <command> [args]   (as root; Debian's docker.io, iproute2, iptables, util-linux)

Commands:
  up [N]       Start (or check and repair) a swarm of N nodes (default 3, at most 9): node n is network
               namespace slipway-lab-<n> at 10.77.0.(10+n) on bridge slwlab0 (10.77.0.1/24), hostname
               slipway-lab-<n>, dockerd on unix://<dir>/node<n>/docker.sock. Every node is a manager.
               Labels: node 1 slipway.database=true; nodes 2..N slipway.edge=true (N=1: both on node 1).
               Loads the images (see below) missing on a node, restarts killed nodes and heals cut links
               (unless the fault belongs to a live test process, see SLIPWAY_SWARM_LAB_OWNER), replaces
               nodes that lost their swarm state, and prints the variables below. Warm: a few seconds.
  down         Remove everything: dockerds, containerds and containers (SIGKILL), mounts, namespaces, veths,
               the bridge, the iptables rule, the cgroups and the state directory. Fine when already down.
  status       `docker node ls` of a reachable manager (exit 1 when the lab is not up).
  env          Print the variables below for the lab as it is (no checks, no changes; exit 1 when not up).
  load [REF…]  Load images into every running node (default: the image set below).
  cut N        Take node N's link down (ip link set slwlab<N> down): the node is cut off, its processes live.
  heal N       Bring node N's link up again.
  kill N       SIGKILL node N's dockerd, containerd, shims and containers at once (its cgroups are frozen,
               killed, thawed): a node failure, unlike killing dockerd alone (containers outlive it).
  start N      Start node N's dockerd again after `kill` (it rejoins the swarm by itself).
  -h, --help   This text.

Output of up/env (stdout, KEY=value lines: `eval "$(bash tools/swarm-lab.sh up 3)"`; progress goes to stderr):
  SWARM_LAB_NODES=3
  SWARM_LAB_DOCKER_HOST=unix:///var/lib/slipway-swarm-lab/node1/docker.sock   a manager (node 1)
  SWARM_LAB_MANAGERS="unix://…/node1/docker.sock unix://…/node2/docker.sock …"   every manager
  SWARM_LAB_NODE_NAMES="slipway-lab-1 slipway-lab-2 slipway-lab-3"            node hostnames
  SWARM_LAB_NODE_ADDRESSES="10.77.0.11 10.77.0.12 10.77.0.13"                  reachable from this machine
  SWARM_LAB_DATABASE_NODE=slipway-lab-1
  SWARM_LAB_EDGE_NODES="slipway-lab-2 slipway-lab-3"
  SWARM_LAB_EDGE_ADDRESSES="10.77.0.12 10.77.0.13"                             host-mode published ports answer here

Images: SLIPWAY_SWARM_LAB_IMAGES (space-separated references; a reference ending in ':*' means every tag of
  that repository) or, by default, every tag of slipway-local/*, slipway/api and slipway/edge in the engine
  this script's `docker` reaches (the images tools/images.sh built). Loaded with one `docker save` copied into
  a `docker load` per node, in parallel; an image already on a node (same image ID) is skipped.
  No registry: Swarm cannot record a digest for these tags (it says so) and each node uses its own copy.

Environment:
  SLIPWAY_SWARM_LAB_DIR      state directory (default /var/lib/slipway-swarm-lab)
  SLIPWAY_SWARM_LAB_OWNER    pid of the process owning the faults that cut/kill make (default: none). `up`
                             repairs a fault whose owner is gone or unset and leaves a live owner's alone.
  SLIPWAY_SWARM_LAB_TIMEOUT  seconds to wait for an engine, a join or nodes Ready (default 120)

Fault timings measured here (loaded 2-core machine): a cut node is marked Down after ~15 s and its tasks
  are Running again on survivors after ~40 s. Swarm runs without IPVS here: use --endpoint-mode dnsrr and
  host-mode publishing; encrypted overlays carry no traffic across nodes (no ESP in this kernel).
EOF
}

LAB_DIR="${SLIPWAY_SWARM_LAB_DIR:-/var/lib/slipway-swarm-lab}"
TIMEOUT="${SLIPWAY_SWARM_LAB_TIMEOUT:-120}"
OWNER="${SLIPWAY_SWARM_LAB_OWNER:-}"
NET=10.77.0
BRIDGE=slwlab0
BRIDGE_ADDR="$NET.1"
# Overlay subnets come from here, far from the lab's own addresses.
ADDR_POOL=10.78.0.0/16
START=$SECONDS
log() { printf '[swarm-lab +%3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ns_of() { echo "slipway-lab-$1"; }
name_of() { echo "slipway-lab-$1"; }
veth_of() { echo "slwlab$1"; }
addr_of() { echo "$NET.$((10 + $1))"; }
dir_of() { echo "$LAB_DIR/node$1"; }
sock_of() { echo "$(dir_of "$1")/docker.sock"; }
host_of() { echo "unix://$(sock_of "$1")"; }
cg_of() { echo "slipway-lab-$1"; }
dk() { local n=$1; shift; docker -H "$(host_of "$n")" "$@"; }
# The cgroup hierarchies holding a node's processes: pids to find them, freezer to stop them all at once.
CG_CONTROLLERS="pids freezer"

node_count() { cat "$LAB_DIR/nodes" 2>/dev/null || true; }
engine_up() { [ -S "$(sock_of "$1")" ] && timeout 10 docker -H "$(host_of "$1")" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
check_node_arg() {
  local n="${1:-}" count
  count="$(node_count)"
  [ -n "$count" ] || die "the lab is not up (no $LAB_DIR/nodes); run: bash tools/swarm-lab.sh up 3"
  [[ "$n" =~ ^[1-9]$ ]] && [ "$n" -le "$count" ] || die "node '$n': expected a number from 1 to $count"
}

# Every process of node n (dockerd, containerd, shims, containers): its pids cgroup subtree.
node_pids() {
  local root="/sys/fs/cgroup/pids/$(cg_of "$1")"
  [ -d "$root" ] || return 0
  find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

# Freeze, SIGKILL, thaw: nothing of the node runs on between the signals (no restarts, no half-dead node).
kill_node_processes() {
  local n=$1 freezer="/sys/fs/cgroup/freezer/$(cg_of "$1")" pids i
  [ -d "$freezer" ] && echo FROZEN >"$freezer/freezer.state" 2>/dev/null || true
  for i in $(seq 1 50); do
    pids="$(node_pids "$n")"
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    [ -d "$freezer" ] && echo THAWED >"$freezer/freezer.state" 2>/dev/null || true
    sleep 0.2
  done
  [ -d "$freezer" ] && echo THAWED >"$freezer/freezer.state" 2>/dev/null || true
  [ -z "$(node_pids "$n")" ] || die "node $n: processes survive SIGKILL: $(node_pids "$n" | tr '\n' ' ')"
  # The pidfiles now name dead processes (a reused pid would confuse dockerd).
  rm -f "$(dir_of "$n")/dockerd.pid" "$(dir_of "$n")/exec/containerd/containerd.pid"
}

remove_cgroups() {
  local cg=$1 ctl
  for ctl in /sys/fs/cgroup/*; do
    [ -d "$ctl/$cg" ] && find "$ctl/$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

unmount_under() {
  local dir=$1 m
  # Deepest first; lazy so that a busy mount cannot stop the teardown.
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  # (grep on a captured listing: `ip … | grep -q` can fail with SIGPIPE under pipefail)
  grep -q "inet $BRIDGE_ADDR/24" <<<"$(ip addr show dev "$BRIDGE")" || ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The host's Docker sets the FORWARD policy to DROP: without this, nodes cannot reach each other (joins
  # time out). Inserted in front of Docker's chains, removed by `down`.
  iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
}

ensure_netns() {
  local n=$1 ns veth addr
  ns="$(ns_of "$n")" veth="$(veth_of "$n")" addr="$(addr_of "$n")"
  [ -e "/var/run/netns/$ns" ] || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip netns exec "$ns" ip link del eth0 2>/dev/null || true
    ip link add "$veth" type veth peer name "${veth}p"
    ip link set "${veth}p" netns "$ns"
    ip netns exec "$ns" ip link set "${veth}p" name eth0
  fi
  ip link set "$veth" master "$BRIDGE"
  ip link set "$veth" up
  ip netns exec "$ns" ip link set lo up
  grep -q "inet $addr/24" <<<"$(ip netns exec "$ns" ip addr show dev eth0)" || ip netns exec "$ns" ip addr add "$addr/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip route replace default via "$BRIDGE_ADDR"
}

start_engine() {
  local n=$1 dir ns name cg ctl
  dir="$(dir_of "$n")" ns="$(ns_of "$n")" name="$(name_of "$n")" cg="$(cg_of "$n")"
  mkdir -p "$dir"
  # Whatever is left of an earlier engine (a crash, a `kill`) goes first.
  kill_node_processes "$n"
  rm -f "$(sock_of "$n")"
  for ctl in $CG_CONTROLLERS; do mkdir -p "/sys/fs/cgroup/$ctl/$cg/engine"; done
  [ -f "$dir/daemon.json" ] || echo '{}' >"$dir/daemon.json"
  log "node $n: starting dockerd ($name, $(addr_of "$n"))"
  # nsenter --net (not `ip netns exec`, which remounts /sys: dockerd then finds no cgroups); unshare --uts for
  # the node's own hostname (Swarm's node name); the engine and everything it starts in the node's cgroups.
  # setsid + fd 9 closed: the engine outlives this script and does not hold its lock.
  # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: the lab has no registry (its images are loaded into every node), and a
  # Swarm task otherwise tries a pull first — here a DNS lookup of registry-1.docker.io that times out, 20 s and more
  # before every task (each one-off step, each API task) started. With a registry, nodes pull as they always do.
  setsid nsenter --net="/var/run/netns/$ns" -- unshare --uts -- sh -c '
      name=$1; cg=$2; shift 2
      hostname "$name"
      for ctl in '"$CG_CONTROLLERS"'; do echo $$ >"/sys/fs/cgroup/$ctl/$cg/engine/cgroup.procs"; done
      DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 exec dockerd "$@"' sh "$name" "$cg" \
    --config-file "$dir/daemon.json" \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" \
    --host "unix://$(sock_of "$n")" \
    --cgroup-parent "/$cg" \
    </dev/null >>"$dir/dockerd.log" 2>&1 9>&- &
}

wait_engine() {
  local n=$1 deadline=$((SECONDS + TIMEOUT))
  until engine_up "$n"; do
    [ $SECONDS -lt $deadline ] || die "node $n: dockerd not answering after ${TIMEOUT}s; last log lines:
$(tail -n 20 "$(dir_of "$n")/dockerd.log" 2>/dev/null)"
    sleep 0.3
  done
}

swarm_info() { dk "$1" info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Cluster.ID}} {{.Swarm.NodeID}}' 2>/dev/null || echo "unreachable false - -"; }

# A fault recorded by cut/kill: "<kind> <owner pid or ->". Repaired by `up` unless its owner still lives.
fault_file() { echo "$(dir_of "$1")/fault"; }
fault_kept() {
  local f owner
  f="$(fault_file "$1")"
  [ -f "$f" ] || return 1
  owner="$(awk '{print $2}' "$f")"
  [ "$owner" != "-" ] && [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null
}
record_fault() { echo "$2 ${OWNER:--}" >"$(fault_file "$1")"; }

# A manager that answers `docker node ls` (the raft has a leader), or nothing.
working_manager() {
  local n count
  count="$(node_count)"
  for n in $(seq 1 "$count"); do
    fault_kept "$n" && continue
    if timeout 15 docker -H "$(host_of "$n")" node ls -q >/dev/null 2>&1; then echo "$n"; return 0; fi
  done
  return 1
}

ensure_swarm() {
  local count=$1 n m state ctl cluster nodeid token info
  read -r state ctl cluster nodeid <<<"$(swarm_info 1)"
  if [ "$state" != active ]; then
    [ "$state" = inactive ] || dk 1 swarm leave --force >/dev/null 2>&1 || true
    log "node 1: swarm init"
    dk 1 swarm init --advertise-addr "$(addr_of 1)" --listen-addr "$(addr_of 1):2377" \
      --default-addr-pool "$ADDR_POOL" --default-addr-pool-mask-length 24 >/dev/null
  fi
  if ! m="$(working_manager)"; then
    # Quorum lost (managers wiped or gone): node 1 starts a new cluster from its own state.
    log "no manager has a leader: node 1 forces a new cluster from its state"
    dk 1 swarm init --force-new-cluster --advertise-addr "$(addr_of 1)" --listen-addr "$(addr_of 1):2377" >/dev/null
    m=1
  fi
  read -r state ctl cluster nodeid <<<"$(swarm_info "$m")"
  token="$(dk "$m" swarm join-token -q manager)"
  for n in $(seq 1 "$count"); do
    fault_kept "$n" && continue
    read -r state ctl cluster nodeid <<<"$(swarm_info "$n")"
    if [ "$state" = active ] && [ "$(dk "$n" info --format '{{.Swarm.Cluster.ID}}')" = "$cluster" ]; then
      if [ "$ctl" != true ]; then dk "$m" node promote "$nodeid" >/dev/null; fi
      continue
    fi
    if [ "$state" != inactive ]; then
      log "node $n: leaving its stale swarm state ($state)"
      dk "$n" swarm leave --force >/dev/null 2>&1 || true
    fi
    log "node $n: joining as a manager"
    dk "$n" swarm join --token "$token" --advertise-addr "$(addr_of "$n")" --listen-addr "$(addr_of "$n"):2377" \
      "$(addr_of "$m"):2377" >/dev/null
  done
  # Node entries that no live node stands for (an engine whose data was lost rejoined under a new ID).
  local live
  live=" $(for n in $(seq 1 "$count"); do dk "$n" info --format '{{.Swarm.NodeID}}' 2>/dev/null || true; done | tr '\n' ' ') "
  dk "$m" node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | while read -r id host status; do
    case "$live" in *" $id "*) continue ;; esac
    if [ "$status" = Down ] || ! [[ "$host" =~ ^slipway-lab-[1-9]$ ]] || [ "${host#slipway-lab-}" -gt "$count" ]; then
      fault_kept "${host#slipway-lab-}" 2>/dev/null && continue
      log "removing stale node entry $id ($host, $status)"
      dk "$m" node demote "$id" >/dev/null 2>&1 || true
      dk "$m" node rm --force "$id" >/dev/null 2>&1 || true
    fi
  done
  echo "$m"
}

ensure_labels() {
  local count=$1 m=$2 n id want_db want_edge
  for n in $(seq 1 "$count"); do
    fault_kept "$n" && continue
    id="$(dk "$n" info --format '{{.Swarm.NodeID}}')"
    want_db=false want_edge=false
    [ "$n" = 1 ] && want_db=true
    { [ "$n" -gt 1 ] || [ "$count" = 1 ]; } && want_edge=true
    local have
    have="$(dk "$m" node inspect -f '{{index .Spec.Labels "slipway.database"}} {{index .Spec.Labels "slipway.edge"}}' "$id")"
    local args=()
    if [ "$want_db" = true ]; then args+=(--label-add slipway.database=true); elif [[ "$have" == true* ]]; then args+=(--label-rm slipway.database); fi
    if [ "$want_edge" = true ]; then args+=(--label-add slipway.edge=true); elif [[ "$have" == *true ]]; then args+=(--label-rm slipway.edge); fi
    [ "$have" = "$([ "$want_db" = true ] && echo true || echo '') $([ "$want_edge" = true ] && echo true || echo '')" ] && continue
    dk "$m" node update "${args[@]}" "$id" >/dev/null
  done
}

wait_ready() {
  local count=$1 m=$2 deadline=$((SECONDS + TIMEOUT)) n expected listing
  expected=0
  for n in $(seq 1 "$count"); do fault_kept "$n" || expected=$((expected + 1)); done
  while :; do
    listing="$(dk "$m" node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' 2>/dev/null || true)"
    [ "$(grep -cE ' Ready (Leader|Reachable)$' <<<"$listing")" -ge "$expected" ] && return 0
    [ $SECONDS -lt $deadline ] || die "nodes not Ready and reachable after ${TIMEOUT}s:
$listing"
    sleep 0.5
  done
}

image_set() {
  local refs="${SLIPWAY_SWARM_LAB_IMAGES:-slipway-local/*:* slipway/api:* slipway/edge:*}" ref
  local all
  all="$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' || true)"
  for ref in $refs; do
    case "$ref" in
      *':*') grep -E "^$(sed 's/[.]/\\./g; s/\*/[^:]*/g' <<<"${ref%:\*}"):" <<<"$all" || true ;;
      *) echo "$ref" ;;
    esac
  done | sort -u
}

load_images() {
  local count=$1; shift
  local refs=("$@") n ref id want have union=() nodes=() pids=() st=0 fifos=()
  if [ ${#refs[@]} -eq 0 ]; then mapfile -t refs < <(image_set); fi
  [ ${#refs[@]} -gt 0 ] || { log "no images to load (none built yet? run tools/images.sh)"; return 0; }
  want="$(for ref in "${refs[@]}"; do printf '%s %s\n' "$ref" "$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || echo missing)"; done)"
  grep -q ' missing$' <<<"$want" && die "images not in this machine's engine: $(grep ' missing$' <<<"$want" | cut -d' ' -f1 | tr '\n' ' ')"
  for n in $(seq 1 "$count"); do
    fault_kept "$n" && continue
    have="$(dk "$n" images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}')"
    local missing=()
    while read -r ref id; do grep -qxF "$ref $id" <<<"$have" || missing+=("$ref"); done <<<"$want"
    [ ${#missing[@]} -eq 0 ] && continue
    log "node $n: missing ${#missing[@]} image(s): ${missing[*]}"
    nodes+=("$n")
    union+=("${missing[@]}")
  done
  [ ${#nodes[@]} -gt 0 ] || return 0
  mapfile -t union < <(printf '%s\n' "${union[@]}" | sort -u)
  # One `docker save`, copied by tee into one `docker load` per node (a load skips layers the node has).
  for n in "${nodes[@]}"; do
    rm -f "$(dir_of "$n")/images.fifo"; mkfifo "$(dir_of "$n")/images.fifo"
    fifos+=("$(dir_of "$n")/images.fifo")
    ( dk "$n" load -q <"$(dir_of "$n")/images.fifo" >/dev/null ) 9>&- &
    pids+=($!)
  done
  local t0=$SECONDS
  ( docker save "${union[@]}" | tee "${fifos[@]}" >/dev/null ) 9>&- || st=1
  for n in "${pids[@]}"; do wait "$n" || st=1; done
  rm -f "${fifos[@]}"
  [ $st = 0 ] || die "loading images failed"
  log "loaded ${#union[@]} image(s) into node(s) ${nodes[*]} in $((SECONDS - t0))s"
}

print_env() {
  local count=$1 n managers="" names="" addrs="" edges="" edge_addrs=""
  for n in $(seq 1 "$count"); do
    managers+="${managers:+ }$(host_of "$n")"
    names+="${names:+ }$(name_of "$n")"
    addrs+="${addrs:+ }$(addr_of "$n")"
    if [ "$n" -gt 1 ] || [ "$count" = 1 ]; then edges+="${edges:+ }$(name_of "$n")"; edge_addrs+="${edge_addrs:+ }$(addr_of "$n")"; fi
  done
  cat <<EOF
SWARM_LAB_NODES=$count
SWARM_LAB_DOCKER_HOST=$(host_of 1)
SWARM_LAB_MANAGERS="$managers"
SWARM_LAB_NODE_NAMES="$names"
SWARM_LAB_NODE_ADDRESSES="$addrs"
SWARM_LAB_DATABASE_NODE=$(name_of 1)
SWARM_LAB_EDGE_NODES="$edges"
SWARM_LAB_EDGE_ADDRESSES="$edge_addrs"
EOF
}

lock() {
  exec 9>/run/lock/slipway-swarm-lab.lock
  flock -w "$((TIMEOUT * 5))" 9 || die "another swarm-lab command holds /run/lock/slipway-swarm-lab.lock"
}

cmd_up() {
  local count="${1:-3}" n m pids=()
  [[ "$count" =~ ^[1-9]$ ]] || die "up: N must be a number from 1 to 9, got '$count'"
  lock
  local had
  had="$(node_count)"
  [ -z "$had" ] || [ "$had" = "$count" ] || die "the lab is up with $had nodes; run 'bash tools/swarm-lab.sh down' first"
  mkdir -p "$LAB_DIR"
  echo "$count" >"$LAB_DIR/nodes"
  ensure_bridge
  for n in $(seq 1 "$count"); do
    if fault_kept "$n"; then log "node $n: leaving its $(awk '{print $1}' "$(fault_file "$n")") alone (owner $(awk '{print $2}' "$(fault_file "$n")") is alive)"; continue; fi
    rm -f "$(fault_file "$n")"
    ensure_netns "$n"
    engine_up "$n" || { start_engine "$n"; pids+=("$n"); }
  done
  for n in "${pids[@]}"; do wait_engine "$n"; done
  m="$(ensure_swarm "$count")"
  ensure_labels "$count" "$m"
  wait_ready "$count" "$m"
  load_images "$count"
  log "up: $count nodes, manager $(host_of "$m")"
  print_env "$count"
}

cmd_down() {
  lock
  local n ns
  # Every node this script could have made, also those of a run that crashed before recording its size.
  for n in $(seq 1 9); do
    ns="$(ns_of "$n")"
    [ -e "/var/run/netns/$ns" ] || [ -d "/sys/fs/cgroup/pids/$(cg_of "$n")" ] || [ -d "$(dir_of "$n")" ] || ip link show "$(veth_of "$n")" >/dev/null 2>&1 || continue
    log "node $n: removing"
    kill_node_processes "$n"
    unmount_under "$(dir_of "$n")"
    remove_cgroups "$(cg_of "$n")"
    ip link del "$(veth_of "$n")" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT; done
  unmount_under "$LAB_DIR"
  rm -rf "$LAB_DIR"
  log "down"
}

cmd_status() {
  local m
  [ -n "$(node_count)" ] || { echo "swarm-lab: not up" >&2; exit 1; }
  m="$(working_manager)" || { echo "swarm-lab: no manager answers (nodes: $(node_count))" >&2; exit 1; }
  dk "$m" node ls
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) [ -n "$(node_count)" ] || { echo "swarm-lab: not up" >&2; exit 1; }; print_env "$(node_count)" ;;
  load) shift; [ -n "$(node_count)" ] || die "the lab is not up; run: bash tools/swarm-lab.sh up 3"; lock; load_images "$(node_count)" "$@" ;;
  cut) check_node_arg "${2:-}"; lock; ip link set "$(veth_of "$2")" down; record_fault "$2" cut; log "node $2: link down" ;;
  heal) check_node_arg "${2:-}"; lock; ip link set "$(veth_of "$2")" up; rm -f "$(fault_file "$2")"; log "node $2: link up" ;;
  kill) check_node_arg "${2:-}"; lock; record_fault "$2" kill; kill_node_processes "$2"; log "node $2: killed" ;;
  start)
    check_node_arg "${2:-}"; lock
    engine_up "$2" || { start_engine "$2"; wait_engine "$2"; }
    rm -f "$(fault_file "$2")"; log "node $2: dockerd up" ;;
  -h|--help|help) usage ;;
  "") usage >&2; exit 2 ;;
  *) echo "swarm-lab.sh: unknown command '$1' (see --help)" >&2; exit 2 ;;
esac
