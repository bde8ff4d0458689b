#!/usr/bin/env bash
# arsync over QUIC across an emulated lossy link: two namespaces joined by arsync-linkem
# (bench/netns-up: RTT 20 ms, 200 Mbit/s each way) with a real sshd at end b
# (bench/netns-sshd). Modes:
#
#   loss      push and pull a tree (300 files of ~7 KiB, 4 of 1 MiB, one of 32 MiB) with
#             --transport quic at 5% and at 20% random loss each way; each run must finish,
#             say "Data transport: QUIC" in --stats, and leave a byte-identical tree.
#   garbage   the same tree pushed (no loss) while thousands of random UDP datagrams of
#             random sizes hit the helper's QUIC port, most of them spoofed from the
#             client's own address and port (the helper's socket is connected to the client,
#             so only those reach its QUIC stack); the push must finish and verify.
#   blocked   UDP to the helper's QUIC port dropped by an nftables rule in end b's namespace:
#             the default --transport auto must fall back to SSH (-v says why; --stats says
#             "SSH channel") and verify, and --transport quic must fail with exit code 10.
#
# Needs root, /dev/net/tun, ip netns, /usr/sbin/sshd, python3 (for the raw datagrams) and
# nft with nftables in the kernel (blocked); exits 77 (skipped) with the reason otherwise.
set -euo pipefail

MODE=${1:?usage: quic_lossy_test.sh loss|garbage|blocked}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ARSYNC=${ARSYNC:?set ARSYNC to the arsync binary}
HELPER=${ARSYNC_HELPER:?set ARSYNC_HELPER to the arsync-helper binary}
: "${ARSYNC_LINKEM:?set ARSYNC_LINKEM to the arsync-linkem binary}"
export ARSYNC_LINKEM
RUN_TIMEOUT=${QUIC_LOSSY_TIMEOUT:-60}  # seconds per arsync run
QUIC_PORT=47313                        # --quic-port, so that the garbage knows where to go

export ARSYNC_NETNS=arsync-qt-$$-$RANDOM
# shellcheck source=../../bench/lib-netns.sh disable=SC1091
source "$REPO_ROOT/bench/lib-netns.sh"
if reason=$(netns_unavailable_reason) && [[ -n $reason ]]; then
  echo "SKIPPED: $reason"
  exit 77
fi
[[ -x /usr/sbin/sshd ]] || { echo "SKIPPED: /usr/sbin/sshd is not installed"; exit 77; }
if [[ $MODE == garbage ]] && ! command -v python3 >/dev/null; then
  echo "SKIPPED: python3 is not installed (it sends the raw datagrams)"
  exit 77
fi
if [[ $MODE == blocked ]] && ! command -v nft >/dev/null; then
  echo "SKIPPED: nft is not installed (it blocks UDP in the namespace)"
  exit 77
fi
CFG=$STATE_DIR/ssh/ssh_config
WORK=$(mktemp -d /tmp/arsync-quic-lossy.XXXXXX)
SPRAY_PID=""
failures=0

link_down() { "$REPO_ROOT/bench/netns-down" >/dev/null 2>&1 || true; }
cleanup() {
  local rc=$?
  set +e
  if [[ -n $SPRAY_PID ]]; then kill "$SPRAY_PID" 2>/dev/null; wait "$SPRAY_PID" 2>/dev/null; fi
  if [[ -e $STATE_DIR ]] || netns_exists "$NS_A" || netns_exists "$NS_B"; then link_down; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The tree: 300 files of 7001 bytes (the last shorter), 4 of 1 MiB, one of 32 MiB, random.
make_tree() {
  local src=$WORK/src
  mkdir -p "$src/small" "$src/medium/deeper"
  head -c 2100000 /dev/urandom | split -b 7001 -d -a 3 - "$src/small/f"
  for i in 1 2 3 4; do head -c $((1 << 20)) /dev/urandom >"$src/medium/deeper/m$i"; done
  head -c $((32 << 20)) /dev/urandom >"$src/big"
}

link_up() {   # arsync-linkem options...
  "$REPO_ROOT/bench/netns-up" --delay-ms 10 --rate-mbit 200 --queue-pkts 2000 "$@" >/dev/null
  # The SSH connection is TCP across the same lossy link: at 20% loss each way, TCP's 200 ms
  # minimum retransmission timeout and its exponential backoff made logins take up to 40 s.
  # A 30 ms minimum on the route keeps that part short; QUIC is what is tested here.
  ip -n "$NS_A" route replace "$NETNS_SUBNET" dev "$NETNS_DEV" proto kernel scope link \
    src "$ADDR_A" rto_min 30ms
  ip -n "$NS_B" route replace "$NETNS_SUBNET" dev "$NETNS_DEV" proto kernel scope link \
    src "$ADDR_B" rto_min 30ms
  "$REPO_ROOT/bench/netns-sshd" start --config 'Ciphers aes128-gcm@openssh.com' >/dev/null
}

# One arsync run from end a; checks its exit code, that QUIC carried the data, and the tree.
run_arsync() {   # label src dest (one of them b:...) expected-tree local-result-dir
  local label=$1 src=$2 dest=$3 expected=$4 result=$5 start rc=0 out
  for _ in 1 2; do
    rc=0
    start=$(now)
    out=$(timeout "$RUN_TIMEOUT" ip netns exec "$NS_A" "$ARSYNC" -a --stats --transport quic \
      --quic-port "$QUIC_PORT" -e "ssh -F $CFG" --helper "$HELPER" "$src" "$dest" 2>&1) || rc=$?
    # The SSH login is TCP across the same lossy link, and not what is tested here: at 20%
    # loss one login in eight (in one series) did not connect within libssh's 30 s. Once
    # more then.
    ((rc == 255)) || break
    echo "note: $label: the SSH connection failed ($(tail -n 1 <<<"$out")); once more"
  done
  local took
  took=$(since "$start")
  if ((rc != 0)); then
    fail "$label: exit code $rc after ${took} s$( ((rc == 124)) && echo " (timed out)"): $(tail -n 5 <<<"$out")"
    return
  fi
  if ! grep -q "^Data transport: QUIC" <<<"$out"; then
    fail "$label: the data did not go over QUIC: $(grep '^Data transport' <<<"$out")"
    return
  fi
  if ! diff -r "$expected" "$result" >/dev/null; then
    fail "$label: the trees differ: $(diff -rq "$expected" "$result" | head -n 3)"
    return
  fi
  pass "$label: ${took} s, every file verified"
}

loss_mode() {
  for loss in 5 20; do
    link_up --loss "$loss"
    run_arsync "push at ${loss}% loss" "$WORK/src/" "b:$WORK/push$loss/" "$WORK/src" "$WORK/push$loss"
    run_arsync "pull at ${loss}% loss" "b:$WORK/push$loss/" "$WORK/pull$loss/" "$WORK/src" \
      "$WORK/pull$loss"
    link_down
  done
}

# Sends COUNT random datagrams of 1-1400 bytes to ADDR_B:QUIC_PORT: one in eight from an
# unconnected port of its own, the rest spoofed from the client's QUIC socket (raw IPv4 UDP,
# checksum 0), once that socket exists. Prints how many went each way.
spray() {   # count
  ip netns exec "$NS_A" python3 - "$1" "$ADDR_A" "$ADDR_B" "$QUIC_PORT" <<'PY'
import os, random, socket, struct, subprocess, sys, time

count, src, dst, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
def client_port():
    out = subprocess.run(["ss", "-Hun", "dst", f"{dst}:{port}"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()  # [state] recv-q send-q local peer
        local = fields[-2] if len(fields) >= 4 else ""
        if local.startswith(src + ":"):
            return int(local.rsplit(":", 1)[1])
    return None
deadline = time.time() + 30
cport = None
while cport is None and time.time() < deadline:
    cport = client_port()
    time.sleep(0.02)
if cport is None:
    print("no client QUIC socket appeared"); sys.exit(1)
time.sleep(0.3)  # into the transfer, past the handshake
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
spoofed = unspoofed = 0
for i in range(count):
    payload = os.urandom(random.randint(1, 1400))
    if random.random() < 0.5:  # half of them look like QUIC short-header packets
        payload = bytes([0x40 | (payload[0] & 0x3f)]) + payload[1:]
    try:
        if i % 8 == 0:
            plain.sendto(payload, (dst, port)); unspoofed += 1
        else:
            header = struct.pack("!HHHH", cport, port, 8 + len(payload), 0)
            raw.sendto(header + payload, (dst, 0)); spoofed += 1
    except OSError:
        time.sleep(0.001)  # a full socket buffer: the next one goes a little later
    if i % 200 == 199:
        time.sleep(0.01)
print(f"sent {spoofed} spoofed from port {cport} and {unspoofed} from elsewhere")
PY
}

garbage_mode() {
  link_up
  spray 5000 >"$WORK/spray.out" 2>&1 &
  SPRAY_PID=$!
  # Paced (--bwlimit) so that the transfer outlasts the datagrams.
  local start rc=0 out
  start=$(now)
  out=$(timeout "$RUN_TIMEOUT" ip netns exec "$NS_A" "$ARSYNC" -a --stats --transport quic \
    --bwlimit 12M --quic-port "$QUIC_PORT" -e "ssh -F $CFG" --helper "$HELPER" \
    "$WORK/src/" "b:$WORK/garbage/" 2>&1) || rc=$?
  local took
  took=$(since "$start")
  local spray_rc=0
  wait "$SPRAY_PID" || spray_rc=$?
  SPRAY_PID=""
  echo "datagrams: $(cat "$WORK/spray.out")"
  ((spray_rc == 0)) || fail "the datagram sender failed: $(cat "$WORK/spray.out")"
  if ((rc != 0)); then
    fail "push under random datagrams: exit code $rc after ${took} s: $(tail -n 5 <<<"$out")"
  elif ! grep -q "^Data transport: QUIC" <<<"$out"; then
    fail "push under random datagrams: not over QUIC: $(grep '^Data transport' <<<"$out")"
  elif ! diff -r "$WORK/src" "$WORK/garbage" >/dev/null; then
    fail "push under random datagrams: the trees differ"
  else
    pass "push under random datagrams: ${took} s, every file verified"
  fi
  link_down
}

blocked_mode() {
  link_up
  # In end b's namespace only, so nothing outside it is touched; gone with the namespace.
  if ! ip netns exec "$NS_B" nft -f - <<NFT 2>"$WORK/nft.err"
table inet arsync_test {
  chain input {
    type filter hook input priority 0;
    udp dport $QUIC_PORT drop
  }
}
NFT
  then
    echo "SKIPPED: nftables is not usable in a namespace here: $(cat "$WORK/nft.err")"
    exit 77
  fi
  local start rc=0 out took
  start=$(now)
  out=$(timeout "$RUN_TIMEOUT" ip netns exec "$NS_A" "$ARSYNC" -a -v --stats --quic-port     "$QUIC_PORT" -e "ssh -F $CFG" --helper "$HELPER" "$WORK/src/" "b:$WORK/blocked/" 2>&1) || rc=$?
  took=$(since "$start")
  if ((rc != 0)); then
    fail "auto with UDP blocked: exit code $rc after ${took} s: $(tail -n 5 <<<"$out")"
  elif ! grep -q "^QUIC unavailable (.*): the data goes over SSH" <<<"$out"; then
    fail "auto with UDP blocked: -v did not say why QUIC was not used"
  elif ! grep -q "^Data transport: SSH channel" <<<"$out"; then
    fail "auto with UDP blocked: $(grep '^Data transport' <<<"$out")"
  elif ! diff -r "$WORK/src" "$WORK/blocked" >/dev/null; then
    fail "auto with UDP blocked: the trees differ"
  else
    pass "auto with UDP blocked: fell back to SSH in ${took} s, every file verified"
  fi
  rc=0
  out=$(timeout "$RUN_TIMEOUT" ip netns exec "$NS_A" "$ARSYNC" -a --transport quic --quic-port     "$QUIC_PORT" -e "ssh -F $CFG" --helper "$HELPER" "$WORK/src/" "b:$WORK/blocked-quic/" 2>&1) ||
    rc=$?
  if ((rc != 10)); then
    fail "--transport quic with UDP blocked: exit code $rc, not 10: $(tail -n 3 <<<"$out")"
  elif ! grep -q "no QUIC data plane to b" <<<"$out"; then
    fail "--transport quic with UDP blocked: no reason given: $out"
  else
    pass "--transport quic with UDP blocked: exit code 10: $(tail -n 1 <<<"$out")"
  fi
  link_down
}

make_tree
case $MODE in
  loss) loss_mode ;;
  garbage) garbage_mode ;;
  blocked) blocked_mode ;;
  *) echo "unknown mode $MODE"; exit 2 ;;
esac
if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
