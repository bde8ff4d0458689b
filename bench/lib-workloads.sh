# shellcheck shell=bash
# bench/lib-workloads.sh — the benchmark workloads, shared by bench/run-local and
# bench/run-remote. Source it; it defines functions only and runs nothing.
#
# The caller provides:
#   SRC         directory holding the source trees (SRC/<workload>)
#   say MSG     progress message (stderr and log)
#   die MSG     print an error and exit non-zero
# and needs python3, find, and optionally openssl.
#
# Defined here:
#   spec_of W          "<dirs> <files per dir> <bytes per file>" of workload W
#   ensure_workload W  create SRC/W unless a complete copy is already there
#   warm_cache DIR     read every file under DIR once (hot page cache)
#   count_files DIR    number of regular files under DIR

# spec: <dirs> <files per dir> <bytes per file>; dirs=0 means files at top level.
spec_of() {
  case $1 in
    small)    echo "100 100 10240" ;;
    mixed)    echo "0 1000 1048576" ;;
    large)    echo "0 1 1073741824" ;;
    nochange) echo "1000 100 1024" ;;
  esac
}
# Writes the tree; random bytes come from stdin (a fast AES-CTR keystream
# seeded from /dev/urandom) so every file has distinct, incompressible data.
GEN_PY='
import os, sys
root, ndirs, nfiles, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rnd = sys.stdin.buffer
CHUNK = 16 << 20
buf, pos = b"", 0
def take(n):
    global buf, pos
    if pos + n > len(buf):
        buf, pos = buf[pos:] + rnd.read(max(CHUNK, n)), 0
        if len(buf) < n:
            sys.exit("random stream ended early")
    b = buf[pos:pos + n]; pos += n
    return b
os.makedirs(root)
dirs = [root] if ndirs == 0 else [os.path.join(root, "d%04d" % i) for i in range(ndirs)]
for d in dirs:
    os.makedirs(d, exist_ok=True)
    for j in range(nfiles):
        with open(os.path.join(d, "f%05d.bin" % j), "wb") as f:
            left = size
            while left:
                n = min(left, CHUNK)
                f.write(take(n)); left -= n
'

random_stream() {
  if command -v openssl >/dev/null; then
    local key iv
    key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    iv=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    exec openssl enc -aes-128-ctr -nosalt -K "$key" -iv "$iv" -in /dev/zero 2>/dev/null
  else
    exec cat /dev/urandom
  fi
}

count_files() { find "$1" -type f | wc -l; }

ensure_workload() {
  local w=$1 spec dir stampf nd nf sz expect t0
  spec=$(spec_of "$w")
  dir=$SRC/$w
  stampf=$SRC/.$w.complete
  read -r nd nf sz <<<"$spec"
  expect=$(( (nd == 0 ? 1 : nd) * nf ))
  if [[ -d $dir && -f $stampf && $(<"$stampf") == "$w $spec" ]] &&
     (( $(count_files "$dir") == expect )); then
    say "workload $w: reusing $dir"
    return
  fi
  say "workload $w: generating $expect files of $sz bytes in $dir ..."
  rm -rf -- "$dir" "$SRC/.$w.partial" "$stampf"
  t0=$(date +%s.%N)
  python3 -c "$GEN_PY" "$SRC/.$w.partial" "$nd" "$nf" "$sz" < <(random_stream)
  (( $(count_files "$SRC/.$w.partial") == expect )) || die "generating $w produced the wrong number of files"
  mv -- "$SRC/.$w.partial" "$dir"
  sync
  echo "$w $spec" >"$stampf"
  say "workload $w: generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
}

warm_cache() {
  # Read every file once so that all tools start from a hot page cache.
  find "$1" -type f -exec cat -- {} + >/dev/null
}

