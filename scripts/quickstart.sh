#!/usr/bin/env bash
# quickstart.sh - rgw2cloud in five minutes, on a fresh Debian (bookworm)
# machine, as root or with sudo:
#
#   scripts/quickstart.sh
#
# 1. installs what is missing (scripts/install-deps.sh: Debian packages only)
# 2. builds rgw2cloud (meson + ninja into build/)
# 3. brings up a throwaway lab under lab/quickstart (scripts/lab.sh): a real
#    Ceph source zone on 127.0.0.1:18000 with rgw2cloud registered as its
#    zone (peer port 18090), and a plain S3 target on 127.0.0.1:18100
# 4. writes a sample config, lab/quickstart/rgw2cloud.json (chmod 600):
#    bucket "photos" -> target bucket qs-media, "reports" -> qs-documents,
#    "scratch" excluded, storage class STANDARD
# 5. puts sample objects (small ones with metadata, one 64 MiB that goes
#    multipart), shows check-config and the dry-run plan, syncs until caught
#    up, shows status and what the target now holds
# 6. prints how to run the daemon and how to clean up.
#
# A lab/quickstart left by an earlier run is torn down first. Everything
# listens on 127.0.0.1 only. Ports can be moved when they are taken:
#   QS_SRC_PORT (18000) QS_DST_PORT (18100) QS_EXPORTER_PORT (18090)
#   QS_DIR (lab/quickstart) QS_BUILD (build) QS_BIG_MIB (64)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SRC_PORT=${QS_SRC_PORT:-18000}
DST_PORT=${QS_DST_PORT:-18100}
EXPORTER_PORT=${QS_EXPORTER_PORT:-18090}
QS=${QS_DIR:-lab/quickstart}
BUILD=${QS_BUILD:-build}
BIG_MIB=${QS_BIG_MIB:-64}
mkdir -p "$(dirname "$QS")"
QS=$(realpath -m -- "$QS")
BIN=$ROOT/$BUILD/src/rgw2cloud
CFG=$QS/rgw2cloud.json

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "quickstart: error: $*" >&2; exit 1; }

# A port is taken if any local socket holds it (TIME_WAIT aside), as lab.sh sees it.
port_busy() {
  local hex; hex=$(printf ':%04X' "$1")
  awk -v h="$hex" 'NR>1 && $4!="06" && substr($2, length($2)-4)==h {f=1} END{exit !f}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# ------------------------------------------------------------ 1. packages
step "1/7 install what is missing (Debian packages)"
bash scripts/install-deps.sh
echo "dependencies ok"

# ------------------------------------------------------------ 2. build
step "2/7 build ($BUILD/)"
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" src/rgw2cloud >/dev/null   # the binary only; scripts/test.sh builds the rest
[ -x "$BIN" ] || die "build: $BIN missing"
"$BIN" --version

# ------------------------------------------------------------ 3. lab
step "3/7 bring up the lab under $QS"
if [ -e "$QS" ]; then
  echo "tearing down the previous quickstart lab"
  bash scripts/lab.sh down "$QS/source" --purge || true
  bash scripts/lab.sh down "$QS/target" --purge || true
  rm -rf -- "$QS"
fi
for p in "$SRC_PORT" "$DST_PORT" "$EXPORTER_PORT"; do
  if port_busy "$p"; then
    die "port $p on this machine is already in use; choose others, e.g.
  QS_SRC_PORT=28000 QS_DST_PORT=28100 QS_EXPORTER_PORT=28090 scripts/quickstart.sh"
  fi
done
mkdir -p "$QS"
bash scripts/lab.sh up "$QS/target" --role target --port "$DST_PORT"
bash scripts/lab.sh up "$QS/source" --role source --port "$SRC_PORT" --exporter-port "$EXPORTER_PORT"

# the two env files, read without sourcing them into each other
envget() { sed -n "s/^$2=//p" "$1/env"; }
S_EP=$(envget "$QS/source" LAB_ENDPOINT)
S_REGION=$(envget "$QS/source" LAB_REGION)
S_SYS_AK=$(envget "$QS/source" LAB_SYSTEM_ACCESS_KEY)
S_SYS_SK=$(envget "$QS/source" LAB_SYSTEM_SECRET_KEY)
S_USER_AK=$(envget "$QS/source" LAB_USER_ACCESS_KEY)
S_USER_SK=$(envget "$QS/source" LAB_USER_SECRET_KEY)
S_ZG=$(envget "$QS/source" LAB_ZONEGROUP)
S_ZONE=$(envget "$QS/source" LAB_EXPORTER_ZONE)
T_EP=$(envget "$QS/target" LAB_ENDPOINT)
T_REGION=$(envget "$QS/target" LAB_REGION)
T_AK=$(envget "$QS/target" LAB_ACCESS_KEY)
T_SK=$(envget "$QS/target" LAB_SECRET_KEY)

# ------------------------------------------------------------ 4. config
step "4/7 write the config: $CFG"
umask 077
cat >"$CFG" <<EOF
{
  "source": {
    "endpoint": "$S_EP",
    "access_key": "$S_SYS_AK",
    "secret": "$S_SYS_SK",
    "zonegroup": "$S_ZG",
    "zone": "$S_ZONE"
  },
  "listen": "127.0.0.1:$EXPORTER_PORT",
  "state": { "backend": "sqlite", "path": "$QS/state.db" },
  "sync": { "poll_interval": 5 },

  "connection": {
    "endpoint": "$T_EP",
    "access_key": "$T_AK",
    "secret": "$T_SK",
    "region": "$T_REGION"
  },
  "storage_class": "STANDARD",
  "target_path": "rgw-\${zonegroup}-\${sid}/\${bucket}",

  "profiles": [
    { "source_bucket": "photos",  "target_path": "qs-media/\${bucket}" },
    { "source_bucket": "reports", "target_path": "qs-documents/\${zonegroup}/\${bucket}" },
    { "source_bucket": "scratch", "exclude": true }
  ]
}
EOF
chmod 600 "$CFG"
umask 022
# the secrets are masked here; the file holds them
sed -E 's/("(access_key|secret)": )"[^"]*"/\1"***"/' "$CFG"

# ------------------------------------------------------------ 5. data
step "5/7 put sample objects into the source (as the lab's user alice)"
s3() {  # s3 METHOD PATH [curl args]: SigV4-signed, as alice
  local m=$1 p=$2; shift 2
  curl -sS -f -m 300 -X "$m" --aws-sigv4 "aws:amz:$S_REGION:s3" \
    --user "$S_USER_AK:$S_USER_SK" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$@" "$S_EP$p"
}
for b in photos reports scratch; do
  s3 PUT "/$b" -o /dev/null
  echo "bucket $b"
done
put() {  # put BUCKET KEY FILE [curl args]
  local b=$1 k=$2 f=$3; shift 3
  s3 PUT "/$b/$k" -T "$f" -o /dev/null "$@"
  printf 'put %-32s %10s bytes\n' "$b/$k" "$(stat -c %s "$f")"
}
TMPD=$(mktemp -d)
trap 'rm -rf -- "$TMPD"' EXIT
head -c 180000 /dev/urandom >"$TMPD/beach.jpg"
head -c 95000 /dev/urandom >"$TMPD/hike.jpg"
printf 'quarter,revenue\nq1,100\n' >"$TMPD/q1.csv"
printf 'quarter,revenue\nq2,120\n' >"$TMPD/q2.csv"
printf 'notes for the team\n' >"$TMPD/readme.txt"
head -c 4096 /dev/urandom >"$TMPD/tmp.bin"
put photos 2024/beach.jpg "$TMPD/beach.jpg" -H 'Content-Type: image/jpeg' \
  -H 'x-amz-meta-camera: x100' -H 'x-amz-tagging: album=summer'
put photos 2024/hike.jpg "$TMPD/hike.jpg" -H 'Content-Type: image/jpeg' -H 'x-amz-acl: public-read'
put reports 2024/q1.csv "$TMPD/q1.csv" -H 'Content-Type: text/csv' -H 'x-amz-meta-owner: finance'
put reports 2024/q2.csv "$TMPD/q2.csv" -H 'Content-Type: text/csv' -H 'x-amz-meta-owner: finance'
put reports README.txt "$TMPD/readme.txt" -H 'Content-Type: text/plain'
put scratch tmp.bin "$TMPD/tmp.bin"
echo "generating a ${BIG_MIB} MiB object (objects of s3.multipart_sync_threshold, 32 MiB, or more go multipart)"
head -c "$((BIG_MIB << 20))" /dev/urandom >"$TMPD/holiday.mp4"
put photos video/holiday.mp4 "$TMPD/holiday.mp4" -H 'Content-Type: video/mp4'
rm -f "$TMPD/holiday.mp4"

# ------------------------------------------------------------ 6. rgw2cloud
step "6/7 rgw2cloud: check the config, plan, sync"
run "$BIN" check-config -c "$CFG"
echo
echo "# what a sync would do, object by object (nothing is written; --json for one JSON line each)"
run "$BIN" dry-run -c "$CFG"
echo
echo "# sync until caught up"
caught_up=0
for attempt in 1 2 3 4 5; do
  if "$BIN" sync -c "$CFG" --once --log-level warn; then
    behind=$("$BIN" status -c "$CFG" --json | jq -r '.summary.shards_behind')
    if [ "$behind" = 0 ]; then caught_up=1; break; fi
    echo "still $behind datalog shards behind; once more"
  else
    echo "sync --once reported failures (attempt $attempt); once more"
  fi
  sleep 2
done
[ "$caught_up" = 1 ] || die "the sync did not catch up; see the lines above"
echo "caught up"
echo
run "$BIN" status -c "$CFG"

step "7/7 what the target holds now ($T_EP)"
t3() {  # SigV4-signed GET on the target
  curl -sS -f -m 60 --aws-sigv4 "aws:amz:$T_REGION:s3" --user "$T_AK:$T_SK" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$T_EP$1"
}
for b in $(t3 / | grep -o '<Name>[^<]*</Name>' | sed 's/<[^>]*>//g'); do
  echo "target bucket $b:"
  t3 "/$b?list-type=2" | grep -o '<Contents>.*</Contents>' | sed 's#</Contents>#&\n#g' |
    sed -n 's#.*<Key>\([^<]*\)</Key>.*<Size>\([0-9]*\)</Size>.*<StorageClass>\([^<]*\)</StorageClass>.*#\1 \2 \3#p' |
    awk '{printf "  %-46s %12s bytes  %s\n", $1, $2, $3}'
done
echo "(the excluded bucket \"scratch\" is not there)"

cat <<EOF

== done. Next:

  run the exporter as a daemon (foreground; Ctrl-C stops it after the batch in flight):
    $BIN run -c $CFG

  then write to the source and watch it arrive, e.g.
    . $QS/source/env.sh
    curl --aws-sigv4 "aws:amz:\$LAB_REGION:s3" --user "\$LAB_USER_ACCESS_KEY:\$LAB_USER_SECRET_KEY" \\
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT -d hello "\$LAB_ENDPOINT/photos/new.txt"
    $BIN status -c $CFG

  plan without writing:   $BIN dry-run -c $CFG [--bucket photos] [--json]
  metrics and health:     curl http://127.0.0.1:$EXPORTER_PORT/metrics   (while it runs)

  stop and clean up (the daemons, their data, the config and the state):
    scripts/lab.sh down $QS/source --purge
    scripts/lab.sh down $QS/target --purge
    rm -rf $QS
EOF
