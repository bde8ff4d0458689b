#!/usr/bin/env bash
# The link emulator end to end: bench/netns-up builds two namespaces joined by arsync-linkem,
# arsync-netprobe measures across them, and the measurements must match the settings:
#   --delay-ms 25                    RTT median 50 +- 3 ms, never below 49.5 ms
#   --delay-ms 25 --b2a-delay-ms 5   RTT median 30 +- 3 ms (per-direction override)
#   --rate-mbit 100                  TCP goodput within 7% of 100 Mbit/s less TCP/IP headers
#   --loss 20 (each way)             500 probes: round-trip loss within 4 sigma of 36%, and
#                                    the emulator's own a->b count within 4 sigma of 20%
# and bench/netns-down must leave no namespace, emulator process or state behind.
# Needs root, /dev/net/tun and ip netns; exits 77 (skipped) with the reason otherwise.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NETPROBE=${ARSYNC_NETPROBE:?set ARSYNC_NETPROBE to the arsync-netprobe binary}
: "${ARSYNC_LINKEM:?set ARSYNC_LINKEM to the arsync-linkem binary}"
export ARSYNC_LINKEM

# A name of its own, so that test runs side by side do not meet.
export ARSYNC_NETNS=arsync-test-$$-$RANDOM
# shellcheck source=../../bench/lib-netns.sh disable=SC1091
source "$REPO_ROOT/bench/lib-netns.sh"
if reason=$(netns_unavailable_reason) && [[ -n $reason ]]; then
  echo "SKIPPED: $reason"
  exit 77
fi
SERVER_PID=""
failures=0

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
link_down() {
  stop_server
  "$REPO_ROOT/bench/netns-down"
}
cleanup() {
  local rc=$?
  set +e
  if [[ -e $STATE_DIR ]] || netns_exists "$NS_A" || netns_exists "$NS_B"; then link_down; fi
  rm -f "/tmp/$ARSYNC_NETNS.server.out"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# Brings the link up with the given arsync-linkem options and starts the probe server at b.
link_up() {
  "$REPO_ROOT/bench/netns-up" "$@"
  local out=/tmp/$ARSYNC_NETNS.server.out
  : >"$out"
  ip netns exec "$NS_B" "$NETPROBE" serve --bind "$ADDR_B" >"$out" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 500; i++)); do
    grep -qx ready "$out" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.01
  done
  echo "probe server did not start: $(cat "$out")"
  return 1
}

at_a() { ip netns exec "$NS_A" "$NETPROBE" "$@"; }

field() {   # key line -> value of key=value in line
  sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

within() {   # value low high
  awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v != "-" && v + 0 >= lo && v + 0 <= hi) }'
}

linkem_counters() {   # direction -> "received lost" from a SIGUSR1 report
  local pid log before i
  pid=$(<"$STATE_DIR/linkem.pid")
  log=$STATE_DIR/linkem.log
  before=$(grep -c "^arsync-linkem: $1: received" "$log" || true)
  kill -USR1 "$pid"
  for ((i = 0; i < 200; i++)); do
    (($(grep -c "^arsync-linkem: $1: received" "$log" || true) > before)) && break
    sleep 0.01
  done
  grep "^arsync-linkem: $1: received" "$log" | tail -n 1 |
    sed -n 's/.*received \([0-9]*\),.* lost \([0-9]*\),.*/\1 \2/p'
}

# ------------------------------------------------------------------ delay
link_up --delay-ms 25
line=$(at_a rtt --to "$ADDR_B" --count 100 --interval-ms 10 --wait-ms 500)
echo "delay 25 ms each way: $line"
median=$(field rtt_median_ms "$line")
min=$(field rtt_min_ms "$line")
if within "$median" 47 53 && within "$min" 49.5 1000 && [[ $(field received "$line") == 100 ]]; then
  pass "RTT median $median ms (min $min) for 2 x 25 ms"
else
  fail "RTT median $median ms, min $min ms, $(field received "$line")/100 answered; want 50 +- 3 ms, min >= 49.5, all answered"
fi
link_down

link_up --delay-ms 25 --b2a-delay-ms 5
line=$(at_a rtt --to "$ADDR_B" --count 50 --interval-ms 10 --wait-ms 500)
echo "delay 25 ms a->b, 5 ms b->a: $line"
median=$(field rtt_median_ms "$line")
if within "$median" 27 33; then
  pass "RTT median $median ms for 25 + 5 ms"
else
  fail "RTT median $median ms; want 30 +- 3 ms"
fi
link_down

# ------------------------------------------------------------------- rate
# The rate counts whole IP packets; TCP with timestamps carries 1448 bytes in 1500.
link_up --rate-mbit 100 --delay-ms 5
line=$(at_a throughput --to "$ADDR_B" --seconds 4 --warmup-s 1)
echo "rate 100 Mbit/s: $line"
steady=$(field steady_mbit "$line")
expected=$(awk 'BEGIN { printf "%.2f", 100 * 1448 / 1500 }')
if within "$steady" "$(awk -v e="$expected" 'BEGIN { print e * 0.93 }')" "$(awk -v e="$expected" 'BEGIN { print e * 1.07 }')"; then
  pass "goodput $steady Mbit/s through a 100 Mbit/s link (TCP payload at line rate: $expected)"
else
  fail "goodput $steady Mbit/s; want $expected +- 7%"
fi
link_down

# ------------------------------------------------------------------- loss
# 20% each way: a probe and its answer both survive with 0.8 * 0.8 = 64%.
link_up --loss 20
line=$(at_a rtt --to "$ADDR_B" --count 500 --interval-ms 10 --wait-ms 300)
echo "loss 20% each way: $line"
loss=$(field loss_pct "$line")
# sigma = sqrt(0.36 * 0.64 / 500) = 2.15%
if within "$loss" 27.4 44.6; then
  pass "round-trip loss $loss% (expected 36%)"
else
  fail "round-trip loss $loss%; want 36 +- 8.6%"
fi
read -r received lost <<<"$(linkem_counters 'a->b')"
if ((received >= 500)) && within "$(awk -v l="$lost" -v r="$received" 'BEGIN { print 100 * l / r }')" 12.8 27.2; then
  pass "arsync-linkem a->b lost $lost of $received"
else
  fail "arsync-linkem a->b lost '$lost' of '$received'; want 500 or more received, 20 +- 7.2% lost"
fi

# ------------------------------------------------------------------- down
linkem_pid=$(<"$STATE_DIR/linkem.pid")
link_down
for ns in "$NS_A" "$NS_B"; do
  if netns_exists "$ns" || ip netns list | grep -qw -- "$ns"; then fail "namespace $ns still exists"; fi
done
# Exited is enough: the emulator ran detached (setsid), so reaping it is init's job, which may
# leave a zombie for a moment.
state=$(sed 's/.*) //' "/proc/$linkem_pid/stat" 2>/dev/null | cut -d' ' -f1 || true)
if [[ -n $state && $state != Z ]]; then fail "arsync-linkem (PID $linkem_pid) still runs (state $state)"; fi
if [[ -e $STATE_DIR ]]; then fail "$STATE_DIR still exists"; fi
if pgrep -f -- "$STATE_DIR" >/dev/null; then fail "a process still mentions $STATE_DIR"; fi
((failures > 0)) || pass "netns-down left no namespace, process or state behind"

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all link emulator checks passed"
