#!/usr/bin/env bash
# A local 3-master Redis Cluster for the tests' "cluster" project (no Docker): redis-server on
# CLUSTER_PORTS (default 7001 7002 7003; cluster bus on port + 10000), data under CLUSTER_DIR/<port>,
# no persistence. Leaves a healthy Cluster alone; starts the nodes that are down; forms the Cluster
# when its nodes are new; resets and re-forms one that stays half-formed or stale. Prints the
# REDIS_CLUSTER_URL on its last line. Fails (non-zero) when the Cluster cannot come up.
#   .ci/redis-cluster.sh                                  # the CI's, on 7001-7003
#   CLUSTER_PORTS="7201 7202 7203" CLUSTER_DIR=/tmp/c .ci/redis-cluster.sh
set -euo pipefail

read -r -a ports <<<"${CLUSTER_PORTS:-7001 7002 7003}"
dir=${CLUSTER_DIR:-/var/lib/redis-cluster}
n=${#ports[@]}

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'FATAL: %s\n' "$*" >&2; exit 1; }
cli() { local p=$1; shift; redis-cli -h 127.0.0.1 -p "$p" "$@" 2>/dev/null; }
node_up() { cli "$1" ping | grep -q PONG; }
info_of() { cli "$1" cluster info | tr -d '\r'; }
field() { sed -n "s/^$2://p" <<<"$1"; }

# Healthy: every node says ok with all 16384 slots served, and the first node knows every port
# (three healthy nodes of three different clusters would otherwise pass).
healthy() {
  local p info nodes
  for p in "${ports[@]}"; do
    info=$(info_of "$p") || return 1
    [ "$(field "$info" cluster_state)" = ok ] && [ "$(field "$info" cluster_slots_ok)" = 16384 ] || return 1
  done
  nodes=$(cli "${ports[0]}" cluster nodes) || return 1
  for p in "${ports[@]}"; do grep -q "127.0.0.1:$p@" <<<"$nodes" || return 1; done
}

# New: a node that knows only itself, serves no slot and holds no key (what `--cluster create` wants).
fresh() {
  local info
  info=$(info_of "$1") || return 1
  [ "$(field "$info" cluster_known_nodes)" = 1 ] && [ "$(field "$info" cluster_slots_assigned)" = 0 ] && [ "$(cli "$1" dbsize)" = 0 ]
}

# Polls (there is no event to wait on) until `check` passes, up to `tries` × 0.2 s.
until_ok() {
  local tries=$1; shift
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.2; done
  return 1
}

command -v redis-server >/dev/null && command -v redis-cli >/dev/null || die "redis-server and redis-cli are needed (apt-get install redis-server)"
[ "$n" -ge 3 ] || die "a Cluster needs at least 3 masters; CLUSTER_PORTS has $n"

started=0
for p in "${ports[@]}"; do
  if node_up "$p"; then
    [ "$(cli "$p" info cluster | tr -d '\r' | sed -n 's/^cluster_enabled://p')" = 1 ] \
      || die "127.0.0.1:$p answers but is a Redis without cluster support; free the port or choose CLUSTER_PORTS"
    continue
  fi
  say "Redis Cluster node $p is down: starting it"
  mkdir -p "$dir/$p"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$p" --dir "$dir/$p" \
    --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 5000 \
    --save "" --appendonly no --logfile "$dir/$p/redis.log" \
    || die "redis-server on $p did not start (see $dir/$p/redis.log)"
  until_ok 50 node_up "$p" || die "redis-server on $p does not answer PING (see $dir/$p/redis.log)"
  started=1
done

if healthy; then
  say "Redis Cluster on ${ports[*]} is healthy"
else
  # Restarted nodes that kept their nodes.conf find each other again by themselves: give them time.
  if [ "$started" = 1 ] && ! fresh "${ports[0]}" && until_ok 50 healthy; then
    say "Redis Cluster on ${ports[*]} is healthy again (restarted nodes rejoined)"
  else
    all_fresh=1
    for p in "${ports[@]}"; do fresh "$p" || all_fresh=0; done
    if [ "$all_fresh" = 0 ]; then
      # Half-formed or stale (a node lost, slots unassigned, nodes of another cluster): the data is
      # test data and persistence is off, so start over. CLUSTER RESET refuses a master with keys.
      say "Redis Cluster on ${ports[*]} is not healthy: resetting its nodes"
      for p in "${ports[@]}"; do
        cli "$p" flushall >/dev/null || die "FLUSHALL on $p failed"
        [ "$(cli "$p" cluster reset hard)" = OK ] || die "CLUSTER RESET HARD on $p failed"
      done
    fi
    say "forming the Redis Cluster on ${ports[*]}"
    addrs=()
    for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >&2 \
      || die "redis-cli --cluster create ${addrs[*]} failed"
    until_ok 100 healthy || die "the Redis Cluster on ${ports[*]} is not healthy 20 s after forming it: $(info_of "${ports[0]}" | grep -E '^cluster_(state|slots_ok|known_nodes)' | tr '\n' ' ')"
    say "Redis Cluster on ${ports[*]} is formed and healthy"
  fi
fi

echo "redis://127.0.0.1:${ports[0]}?cluster=1"
