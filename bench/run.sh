#!/usr/bin/env bash
# bench/run.sh - rgw2cloud against rclone and a raw curl baseline, on the lab.
#
#   bench/run.sh                   everything (10-20 minutes on 2 cores)
#
# Knobs (environment):
#   BENCH_RUNS=3                   runs per tool and dataset (interleaved); LARGE's runs
#                                  are 3 s each and move with the machine: BENCH_RUNS_LARGE=5
#   BENCH_DATASETS="large small"   which datasets
#   BENCH_TOOLS_LARGE / BENCH_TOOLS_SMALL   tool lists, in run order (defaults below)
#   BENCH_CONCURRENCY=32 BENCH_PART_CONCURRENCY=8
#   BENCH_MAX_INFLIGHT=1G          rgw2cloud sync.max_inflight_bytes (its default)
#   BENCH_LOWMEM_INFLIGHT=128M     max_inflight_bytes of the "rgw2cloud-lowmem" variant
#   BENCH_TCP_NODELAY=0            1: both labs' radosgw with beast tcp_nodelay=1 (see README)
#   BENCH_RUN_TIMEOUT=900          seconds before one tool run is killed (and failed)
#   BENCH_SETTLE=3                 seconds of quiet before each timed run
#   BENCH_MAX_STEAL=5              % of the machine's CPU the hypervisor may take (steal
#                                  time) during a run before the run is repeated
#   BENCH_STEAL_RETRIES=3          repeats of such a run, at most (the last one counts)
#   BENCH_OUT=/tmp/rgw2cloud-bench-<time>   where results.tsv, report.txt and logs stay
#   RGW2CLOUD=path                 use this binary (default: a fresh build of this tree,
#                                  buildtype BENCH_BUILDTYPE=debugoptimized, the project's)
#
# Each timed run copies the dataset from the one source lab into a new, empty bucket
# of the one target lab; afterwards the bucket is listed (count and bytes must match
# the source, else the run is reported FAILED and not used), then removed with
# `radosgw-admin bucket rm --purge-objects --bypass-gc` so the memstore OSD does not
# fill up. Both labs are torn down (lab.sh down --purge) on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
LAB=$ROOT/scripts/lab.sh
PY=python3

RUNS=${BENCH_RUNS:-3}
RUNS_LARGE=${BENCH_RUNS_LARGE:-$(( RUNS > 5 ? RUNS : 5 ))}
DATASETS=${BENCH_DATASETS:-"large small"}
TOOLS_LARGE=${BENCH_TOOLS_LARGE:-"rgw2cloud rgw2cloud-lowmem rgw2cloud-single rgw2cloud-curl rclone-default rclone-tuned rclone-multipart raw-curl"}
TOOLS_SMALL=${BENCH_TOOLS_SMALL:-"rgw2cloud rgw2cloud-curl rclone-default rclone-tuned raw-curl"}
CONC=${BENCH_CONCURRENCY:-32}
PARTC=${BENCH_PART_CONCURRENCY:-8}
INFLIGHT=${BENCH_MAX_INFLIGHT:-1G}
LOWMEM_INFLIGHT=${BENCH_LOWMEM_INFLIGHT:-128M}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-900}
SETTLE=${BENCH_SETTLE:-3}
MAX_STEAL=${BENCH_MAX_STEAL:-5}
STEAL_RETRIES=${BENCH_STEAL_RETRIES:-3}
NODELAY=${BENCH_TCP_NODELAY:-0}
OUT=${BENCH_OUT:-/tmp/rgw2cloud-bench-$(date +%Y%m%d-%H%M%S)}

LARGE_N=${BENCH_LARGE_N:-8} LARGE_SIZE=$((128 << 20))
SMALL_BUCKETS=5 SMALL_PER_BUCKET=${BENCH_SMALL_PER_BUCKET:-1000} SMALL_SIZE=4096

T0=$(date +%s)
TOOLPID=""
say() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ------------------------------------------------------------ teardown ------
WORK=$(mktemp -d /tmp/rgw2cloud-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/rgw2cloud-bench.XXXXXX)
mkdir -p "$OUT"
# shellcheck disable=SC2013  # /proc/.../children is one line of pids
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # a tool run in progress: TERM its `timeout`, which passes it on to the tool;
  # KILL after 10 s (rgw2cloud finishes its batch in flight on TERM)
  local p n
  if [ -n "${TOOLPID:-}" ]; then
    for p in $(cat "/proc/$TOOLPID/task/"*/children 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
    for ((n = 0; n < 100; n++)); do kill -0 "$TOOLPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$TOOLPID" 2>/dev/null; then
      for p in $(cat "/proc/$TOOLPID/task/"*/children 2>/dev/null); do
        for n in $(cat "/proc/$p/task/"*/children 2>/dev/null); do kill -KILL "$n" 2>/dev/null || true; done
        kill -KILL "$p" 2>/dev/null || true
      done
    fi
    wait "$TOOLPID" 2>/dev/null || true
  fi
  for d in "$WORK/src" "$WORK/tgt"; do
    [ -e "$d" ] && { "$LAB" down "$d" --purge >>"$OUT/lab.log" 2>&1 || say "warning: lab down $d failed (see $OUT/lab.log)"; }
  done
  rm -rf -- "$SHM"
  [ "${BENCH_KEEP_WORK:-0}" = 1 ] || rm -rf -- "$WORK"
  say "torn down; results in $OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ tools ---------
need_pkgs=()
command -v rclone >/dev/null || need_pkgs+=(rclone)
[ -x /usr/bin/time ] || need_pkgs+=(time)
command -v curl >/dev/null || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]} (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
command -v rclone >/dev/null || die "rclone missing"
"$LAB" install

if [ -n "${RGW2CLOUD:-}" ]; then
  BIN=$RGW2CLOUD
else
  say "building rgw2cloud (${BENCH_BUILDTYPE:-debugoptimized}) in $WORK/build"
  meson setup "$WORK/build" "$ROOT" --buildtype="${BENCH_BUILDTYPE:-debugoptimized}" >"$OUT/build.log" 2>&1 ||
    die "meson setup failed (see $OUT/build.log)"
  ninja -C "$WORK/build" src/rgw2cloud >>"$OUT/build.log" 2>&1 || die "build failed (see $OUT/build.log)"
  BIN=$WORK/build/src/rgw2cloud
fi
[ -x "$BIN" ] || die "no rgw2cloud binary at $BIN"

# ------------------------------------------------------------ labs ----------
port_busy() {
  local hex; hex=$(printf ':%04X' "$1")
  awk -v h="$hex" 'NR>1 && $4!="06" && substr($2, length($2)-4)==h {f=1} END{exit !f}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# Ports below the kernel's ephemeral range (lab.sh puts the mon at PORT+10000 and the
# osd just above it; an outgoing connection may take an ephemeral port at any time).
EPH_LOW=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
range_free() { local p; for ((p = $1; p <= $2; p++)); do ! port_busy "$p" || return 1; done; }
pick_base() {  # a base B: source B (+90 exporter), target B+200, mons B+10000 / B+10200
  local b tries
  for ((tries = 0; tries < 200; tries++)); do
    b=$((15000 + (RANDOM % 30) * 250))
    [ $((b + 10250)) -lt "$EPH_LOW" ] || b=$((EPH_LOW - 10250 - (RANDOM % 8) * 250))
    range_free "$b" "$b" && range_free $((b + 90)) $((b + 90)) && range_free $((b + 200)) $((b + 200)) &&
      range_free $((b + 10000)) $((b + 10040)) && range_free $((b + 10200)) $((b + 10240)) &&
      { echo "$b"; return; }
  done
  die "no free ports"
}
labs_up() {

  for _ in 1 2 3; do
    BASE=$(pick_base)
    SPORT=$BASE TPORT=$((BASE + 200))
    say "labs: source on $SPORT, target on $TPORT (tcp_nodelay=$NODELAY), work dir $WORK"
    if lab_up "$WORK/src" source "$SPORT" && lab_up "$WORK/tgt" target "$TPORT"; then return 0; fi
    say "lab up failed (see $OUT/lab.log); trying other ports"
    for d in "$WORK/src" "$WORK/tgt"; do
      [ -e "$d" ] && { "$LAB" down "$d" --purge >>"$OUT/lab.log" 2>&1 || true; }
    done
  done
  die "labs did not come up (see $OUT/lab.log)"
}
lab_up() {  # dir role port
  local dir=$1 role=$2 port=$3 extra=""
  [ "$NODELAY" = 1 ] && extra="rgw_frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1"
  LAB_EXTRA_CONF=$extra "$LAB" up "$dir" --role "$role" --port "$port" >>"$OUT/lab.log" 2>&1
}
labs_up
envget() { sed -n "s/^$2=//p" "$1/env"; }
SEP=$(envget "$WORK/src" LAB_ENDPOINT)  SREG=$(envget "$WORK/src" LAB_REGION)
SAK=$(envget "$WORK/src" LAB_USER_ACCESS_KEY) SSK=$(envget "$WORK/src" LAB_USER_SECRET_KEY)
SYSAK=$(envget "$WORK/src" LAB_SYSTEM_ACCESS_KEY) SYSSK=$(envget "$WORK/src" LAB_SYSTEM_SECRET_KEY)
ZG=$(envget "$WORK/src" LAB_ZONEGROUP) EZONE=$(envget "$WORK/src" LAB_EXPORTER_ZONE)
EXPORT_PORT=$(envget "$WORK/src" LAB_EXPORTER_PORT)
TEP=$(envget "$WORK/tgt" LAB_ENDPOINT) TREG=$(envget "$WORK/tgt" LAB_REGION)
TAK=$(envget "$WORK/tgt" LAB_ACCESS_KEY) TSK=$(envget "$WORK/tgt" LAB_SECRET_KEY)
TCONF=$(envget "$WORK/tgt" LAB_CEPH_CONF)

s3src() { S3_ENDPOINT=$SEP S3_ACCESS_KEY=$SAK S3_SECRET_KEY=$SSK S3_REGION=$SREG $PY "$HERE/s3.py" "$@"; }
s3tgt() { S3_ENDPOINT=$TEP S3_ACCESS_KEY=$TAK S3_SECRET_KEY=$TSK S3_REGION=$TREG $PY "$HERE/s3.py" "$@"; }

# ------------------------------------------------------------ data ----------
case " $DATASETS " in *" large "*)
  say "loading LARGE: $LARGE_N x $((LARGE_SIZE >> 20)) MiB random into bucket large"
  s3src mkbucket large
  s3src put-random large obj- "$LARGE_N" "$LARGE_SIZE" 4
  read -r n b < <(s3src stat large)
  [ "$n $b" = "$LARGE_N $((LARGE_N * LARGE_SIZE))" ] || die "source large holds $n objects, $b bytes"
  ;;
esac
case " $DATASETS " in *" small "*)
  say "loading SMALL: $((SMALL_BUCKETS * SMALL_PER_BUCKET)) x $SMALL_SIZE B random in $SMALL_BUCKETS buckets"
  for ((i = 0; i < SMALL_BUCKETS; i++)); do
    s3src mkbucket "small-$i"
    s3src put-random "small-$i" k "$SMALL_PER_BUCKET" "$SMALL_SIZE" 32
    read -r n b < <(s3src stat "small-$i")
    [ "$n $b" = "$SMALL_PER_BUCKET $((SMALL_PER_BUCKET * SMALL_SIZE))" ] || die "source small-$i holds $n objects, $b bytes"
  done
  ;;
esac

# ------------------------------------------------------------ tools ---------
cat >"$WORK/rclone.conf" <<EOF
[src]
type = s3
provider = Ceph
access_key_id = $SAK
secret_access_key = $SSK
endpoint = $SEP
region = $SREG

[dst]
type = s3
provider = Ceph
access_key_id = $TAK
secret_access_key = $TSK
endpoint = $TEP
region = $TREG
EOF
chmod 600 "$WORK/rclone.conf"
RCLONE_TUNED=(--transfers "$CONC" --checkers "$CONC" --s3-upload-concurrency "$PARTC" --s3-chunk-size 16M)

r2c_config() {  # file dataset dstbucket inflight state [threshold]
  local f=$1 ds=$2 dst=$3 inflight=$4 state=$5 threshold=${6:-16M} src_match s3=""
  if [ "$ds" = large ]; then
    src_match=large
    s3=', "s3": {"multipart_sync_threshold": "'$threshold'", "multipart_min_part_size": "16M"}'
  else
    src_match='small-*'
  fi
  (umask 077; cat >"$f" <<EOF
{
  "source": {"endpoint": "$SEP", "access_key": "$SYSAK", "secret": "$SYSSK",
             "zonegroup": "$ZG", "zone": "$EZONE"},
  "listen": "127.0.0.1:$EXPORT_PORT",
  "state": {"backend": "sqlite", "path": "$state"},
  "sync": {"poll_interval": 1, "concurrency": $CONC, "part_concurrency": $PARTC,
           "max_inflight_bytes": "$inflight"},
  "connection": {"endpoint": "$TEP", "access_key": "$TAK", "secret": "$TSK", "region": "$TREG"},
  "profiles": [
    {"source_bucket": "*", "exclude": true},
    {"source_bucket": "$src_match", "target_path": "$dst/\${bucket}"}
  ]$s3
}
EOF
  )
}

# raw-curl inputs, made before the clock starts (listing + presigning is not copying)
raw_prepare() {  # dataset dstbucket -> $WORK/raw.list
  local ds=$1 dst=$2 k sz
  if [ "$ds" = large ]; then
    s3src keys large | while read -r k sz; do
      echo "$SEP/large/$k $sz $(s3tgt presign PUT "$dst" "large/$k" 7200)"
    done >"$WORK/raw.list"
  else
    for ((i = 0; i < SMALL_BUCKETS; i++)); do
      s3src keys "small-$i" | awk -v b="small-$i" '{print b "/" $1}'
    done >"$WORK/raw.list"
  fi
}

# The timed command of one run, as an argv in CMD.
tool_cmd() {  # tool dataset dstbucket runtag
  local tool=$1 ds=$2 dst=$3 tag=$4
  CMD=()
  case $tool in
    rgw2cloud | rgw2cloud-lowmem | rgw2cloud-single | rgw2cloud-curl)
      local inflight=$INFLIGHT threshold=16M
      [ "$tool" = rgw2cloud-lowmem ] && inflight=$LOWMEM_INFLIGHT
      # -single: LARGE as streamed single PUTs (Content-MD5 = the source ETag), as
      # rclone-tuned sends it; not a goal, the cost of multipart shows against it
      [ "$tool" = rgw2cloud-single ] && threshold=1G
      r2c_config "$WORK/$tag.json" "$ds" "$dst" "$inflight" "$WORK/$tag.db" "$threshold"
      CMD=("$BIN" sync -c "$WORK/$tag.json" --once)
      # -curl: the same multipart run with every body through curl, as on an
      # https endpoint (not a goal: what the plain-http data path saves)
      if [ "$tool" = rgw2cloud-curl ]; then CMD=(env RGW2CLOUD_CURL_ONLY=1 "${CMD[@]}"); fi
      ;;
    rclone-*)
      local from to
      if [ "$ds" = large ]; then from=src:large to=dst:$dst/large
      else from=src: to=dst:$dst; fi
      # AWS_CA_BUNDLE (set on some machines) makes rclone 1.60 refuse to start:
      # "LoadCustomCABundleError ... unsupported transport"; the labs are plain http.
      CMD=(env -u AWS_CA_BUNDLE rclone --config "$WORK/rclone.conf" copy "$from" "$to")
      [ "$ds" = small ] && CMD+=(--include '/small-*/**')
      case $tool in
        rclone-default) ;;
        rclone-tuned) CMD+=("${RCLONE_TUNED[@]}") ;;
        rclone-multipart) CMD+=("${RCLONE_TUNED[@]}" --s3-upload-cutoff 0) ;;
        *) die "unknown tool $tool" ;;
      esac
      ;;
    raw-curl)
      raw_prepare "$ds" "$dst"
      if [ "$ds" = large ]; then
        CMD=(bash "$HERE/raw.sh" large "$WORK/raw.list" "$CONC")
      else
        rm -rf "${SHM:?}/raw"; mkdir -p "$SHM/raw"
        CMD=(bash "$HERE/raw.sh" small "$WORK/raw.list" "$CONC" "$TEP/$dst" "$SHM/raw")
      fi
      ;;
    *) die "unknown tool $tool" ;;
  esac
}

# CPU jiffies: the whole machine busy, the time the hypervisor gave to other
# machines while ours wanted to run (steal), and our four lab daemons (pid files under run/)
cpu_busy() { awk '$1=="cpu"{print $2+$3+$4+$7+$8; exit}' /proc/stat; }
cpu_steal() { awk '$1=="cpu"{print $9; exit}' /proc/stat; }
cpu_labs() {
  local f t=0 p
  for f in "$WORK"/src/run/*.pid "$WORK"/tgt/run/*.pid; do
    p=$(cat "$f" 2>/dev/null) || continue
    t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
HZ=$(getconf CLK_TCK)

RESULTS=$OUT/results.tsv
printf 'dataset\ttool\trun\tstatus\twall_s\tuser_s\tsys_s\tmaxrss_kb\tobjects\tbytes\texp_objects\texp_bytes\tinit_s\tstart_epoch\tload1\tlabs_cpu_s\tforeign_cpu_s\tsteal_s\tattempt\n' >"$RESULTS"

run_one() {  # dataset tool run attempt; returns 3 when the run is to be repeated (steal)
  local ds=$1 tool=$2 run=$3 attempt=${4:-0} dst tag exp_n exp_b status rc n b init="" start
  tag=$ds-$tool-$run
  [ "$attempt" -gt 0 ] && tag=$tag-a$attempt
  dst=$(echo "bench-$tag" | tr -c 'a-z0-9\n-' '-')
  if [ "$ds" = large ]; then exp_n=$LARGE_N exp_b=$((LARGE_N * LARGE_SIZE))
  else exp_n=$((SMALL_BUCKETS * SMALL_PER_BUCKET)) exp_b=$((SMALL_BUCKETS * SMALL_PER_BUCKET * SMALL_SIZE)); fi
  s3tgt mkbucket "$dst"
  tool_cmd "$tool" "$ds" "$dst" "$tag"
  sync
  sleep "$SETTLE"
  load1=$(cut -d' ' -f1 /proc/loadavg)
  busy0=$(cpu_busy) labs0=$(cpu_labs) steal0=$(cpu_steal)
  start=$(date +%s.%N)
  rc=0
  export SRC_EP=$SEP SRC_AK=$SAK SRC_SK=$SSK SRC_REGION=$SREG TGT_AK=$TAK TGT_SK=$TSK TGT_REGION=$TREG
  # in the background, so that a signal to this script is handled at once (bash
  # defers traps while a foreground child runs); cleanup() stops it via TOOLPID
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.out" \
    timeout -k 10 "$RUN_TIMEOUT" "${CMD[@]}" >"$OUT/$tag.log" 2>&1 </dev/null &
  TOOLPID=$!
  wait "$TOOLPID" || rc=$?
  TOOLPID=""
  wall=0 user=0 sys=0 rss=0
  [ -s "$WORK/time.out" ] && read -r wall user sys rss < <(tail -n 1 "$WORK/time.out")
  rm -f "$WORK/time.out"
  busy1=$(cpu_busy) labs1=$(cpu_labs) steal1=$(cpu_steal)
  # servers' CPU, and everybody else's: machine busy - our labs - the tool
  labs_cpu=$(awk -v a="$labs0" -v b="$labs1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')
  foreign=$(awk -v a="$busy0" -v b="$busy1" -v l="$labs_cpu" -v u="$user" -v s="$sys" -v hz="$HZ" \
    'BEGIN{f = (b - a) / hz - l - u - s; printf "%.2f", f < 0 ? 0 : f}')
  steal=$(awk -v a="$steal0" -v b="$steal1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')
  read -r n b < <(s3tgt stat "$dst" || echo "? ?")
  if [ "$rc" != 0 ]; then status="FAILED(exit $rc)"
  elif [ "$n" != "$exp_n" ] || [ "$b" != "$exp_b" ]; then status="FAILED(incomplete)"
  else status=ok; fi
  # the hypervisor took more than MAX_STEAL % of the machine's CPU: the run
  # measured the host's other guests as much as the tool; it is shown, not
  # counted, and repeated (the last allowed repeat counts whatever its steal)
  local repeat=0
  if [ "$status" = ok ] && [ "$run" != 0 ] && [ "$attempt" -lt "$STEAL_RETRIES" ] &&
    awk -v st="$steal" -v w="$wall" -v n="$(nproc)" -v m="$MAX_STEAL" 'BEGIN{exit !(st > w * n * m / 100)}'; then
    status="stolen" repeat=1
  fi
  if [[ $tool == rgw2cloud* ]]; then
    # seconds from start to "full sync started": the datalog shard markers (init)
    init=$($PY - "$OUT/$tag.log" "$start" <<'EOF'
import sys, datetime
for line in open(sys.argv[1]):
    if 'msg="full sync started"' in line:
        t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        print(f"{t - float(sys.argv[2]):.2f}")
        break
EOF
)
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ds" "$tool" "$run" "$status" \
    "$wall" "$user" "$sys" "$rss" "$n" "$b" "$exp_n" "$exp_b" "${init:-}" "$start" "$load1" "$labs_cpu" "$foreign" "$steal" "$attempt" >>"$RESULTS"
  say "$(printf '%-6s %-17s run %s: %-18s wall %6ss cpu %5.2fs rss %5d MiB  %s objects %s bytes; servers %ss cpu, others %ss, stolen %ss' \
    "$ds" "$tool" "$run" "$status" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}')" "$((rss / 1024))" "$n" "$b" "$labs_cpu" "$foreign" "$steal")"
  [ "$status" = ok ] && [ "${BENCH_KEEP_LOGS:-0}" != 1 ] && rm -f "$OUT/$tag.log"
  # free the target's memstore now (a deleted object would otherwise wait for RGW's gc)
  timeout 300 radosgw-admin -c "$TCONF" bucket rm --bucket="$dst" --purge-objects --bypass-gc \
    >>"$OUT/lab.log" 2>&1 || say "warning: could not remove target bucket $dst"
  rm -f "$WORK/$tag.db" "$WORK/$tag.db-wal" "$WORK/$tag.db-shm" "$WORK/$tag.json"
  rm -rf "${SHM:?}/raw"
  [ "$repeat" = 0 ] || return 3
}

run_counted() {  # dataset tool run: run_one, repeated while the host steals the CPU
  local a=0 rc
  while :; do
    rc=0
    run_one "$1" "$2" "$3" "$a" || rc=$?
    [ "$rc" = 3 ] || return "$rc"
    a=$((a + 1))
    say "repeating: the hypervisor took over $MAX_STEAL% of the CPU (attempt $a of $STEAL_RETRIES)"
  done
}

for ds in $DATASETS; do
  rounds=$RUNS
  if [ "$ds" = large ]; then tools=$TOOLS_LARGE rounds=$RUNS_LARGE; else tools=$TOOLS_SMALL; fi
  say "dataset $ds: $rounds rounds of: $tools"
  read -r -a tl <<<"$tools"
  # one untimed copy first (run 0, not counted): the first copy after the
  # load pays the labs' warm-up (caches, first connections, the OSD settling)
  say "warm-up: ${tl[0]} once, not counted"
  run_one "$ds" "${tl[0]}" 0
  for ((r = 1; r <= rounds; r++)); do
    # rotated by one each round: no tool always runs first (after the
    # previous round's bucket removal) or always after the same one
    for ((k = 0; k < ${#tl[@]}; k++)); do
      run_counted "$ds" "${tl[(k + r - 1) % ${#tl[@]}]}" "$r"
    done
  done
done

{
  echo "rgw2cloud benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(rclone version 2>/dev/null | head -1),"
  echo "$("$BIN" --version 2>/dev/null | head -1) ($BIN), git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
  echo "concurrency $CONC, part_concurrency $PARTC, max_inflight_bytes $INFLIGHT (lowmem: $LOWMEM_INFLIGHT), radosgw tcp_nodelay=$NODELAY"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  $PY "$HERE/report.py" "$RESULTS" --max-inflight "$INFLIGHT" --lowmem-inflight "$LOWMEM_INFLIGHT"
} | tee "$OUT/report.txt"
