# shellcheck shell=bash disable=SC2034  # the names are used by the scripts that source this
# Shared by bench/netns-up, netns-down, netns-sshd and netns-congctl: the names and paths of
# one emulated link, and small checks. Sourced, not run.
#
# One link is a pair of network namespaces joined by arsync-linkem:
#   namespace NAME-a: device linkem0, 10.77.0.1/24
#   namespace NAME-b: device linkem0, 10.77.0.2/24
# NAME comes from ARSYNC_NETNS (default arsync), so that several links (parallel tests) can
# exist at once. Its state (PID files, logs, ssh keys) lives in ARSYNC_NETNS_STATE/NAME
# (default /run/arsync-netns/NAME).

NETNS_NAME=${ARSYNC_NETNS:-arsync}
[[ $NETNS_NAME =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$ ]] ||
  { echo "${PROG:-netns}: ARSYNC_NETNS must match [A-Za-z0-9][A-Za-z0-9_.-]{0,40} (got '$NETNS_NAME')" >&2; exit 2; }
NS_A=$NETNS_NAME-a
NS_B=$NETNS_NAME-b
NETNS_DEV=linkem0
ADDR_A=10.77.0.1
ADDR_B=10.77.0.2
NETNS_SUBNET=10.77.0.0/24
NETNS_PREFIX_LEN=24
STATE_DIR=${ARSYNC_NETNS_STATE:-/run/arsync-netns}/$NETNS_NAME

netns_die() { echo "${PROG:-netns}: error: $*" >&2; exit 1; }

netns_exists() { [[ -e /run/netns/$1 ]]; }

# True if PID is alive and its command line contains TEXT (a path only that process was
# given), so that a PID reused by another process after ours exited is never signalled. A
# substring, not an argument: sshd rewrites its command line into one string. An exited
# process (a zombie) has an empty command line.
pid_runs_with() {   # pid text
  local pid=$1 text=$2
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$text"
}

# Sends SIGTERM to PID (checked with pid_runs_with TEXT) and waits up to 5 s for it to go,
# then SIGKILL. Returns 0 once it is gone (or was not ours to begin with).
stop_pid() {   # pid text label
  local pid=$1 text=$2 label=$3 i
  pid_runs_with "$pid" "$text" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 500; i++)); do
    pid_runs_with "$pid" "$text" || return 0
    sleep 0.01
  done
  echo "${PROG:-netns}: warning: $label (PID $pid) ignored SIGTERM for 5 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    pid_runs_with "$pid" "$text" || return 0
    sleep 0.01
  done
  return 1
}

# Why this machine cannot build a link, or nothing: a real missing feature, not a setting.
netns_unavailable_reason() {
  if [[ $(id -u) != 0 ]]; then echo "needs root (network namespaces, TUN devices)"; return; fi
  if [[ ! -c /dev/net/tun ]]; then echo "/dev/net/tun is missing"; return; fi
  if ! command -v ip >/dev/null; then echo "the ip command (iproute2) is missing"; return; fi
  if ! ip netns list >/dev/null 2>&1; then echo "'ip netns' does not work here"; return; fi
}
