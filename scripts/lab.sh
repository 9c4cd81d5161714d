#!/usr/bin/env bash
# lab.sh - a real, throwaway Ceph Pacific lab (mon + memstore osd + radosgw)
# living entirely under one directory, bound to 127.0.0.1 only.
#
#   scripts/lab.sh up DIR --role source|target [--port PORT] [--exporter-port P]
#   scripts/lab.sh selftest DIR      (source: a PUT must show up in datalog + bilog)
#   scripts/lab.sh down DIR [--purge]
#   scripts/lab.sh install           (install missing Debian packages, nothing else)
#
# Roles:
#   source  realm lab / zonegroup zg1 / master zone z1 (this radosgw) plus the
#           exporter registered as a second zone "rgw2cloud" (tier-type cloud).
#           Only a zonegroup with >1 zone makes RGW write datalog + bilog
#           (research/ceph-lab.md §4, DESIGN.md §2), so this is the minimal
#           layout in which the exporter has something to follow.
#   target  plain default zone, one S3 user: the stand-in cloud.
#
# Knobs (env, read by `up` only; deliberately not the names written to env.sh,
# so sourcing one lab's env.sh cannot leak into the next `up`):
#   LAB_EXTRA_CONF='k = v;k2 = v2'  appended to [global]; a key given here
#                                   replaces this script's default for it
#   LAB_DATALOG_SHARDS (128)  LAB_INDEX_SHARDS (11)
#   LAB_KEEP_ON_FAIL=1        leave a failed lab running for inspection
#
# Output: DIR/env.sh (export lines), DIR/env (KEY=VALUE for C tests),
# DIR/bringup-seconds; logs in DIR/log/.
set -euo pipefail

# A caller's CEPH_CONF/CEPH_ARGS (e.g. from another lab) must never redirect
# our ceph/radosgw-admin calls to a different cluster; we always pass -c.
unset CEPH_CONF CEPH_ARGS

PKGS=(ceph-mon ceph-osd radosgw ceph-common jq curl)
CMDS=(ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool jq curl)
PROG=${0##*/}
T0=$(date +%s.%N)

IN_UP=0 ERRMSG="" FAILED_CMD=""
# Inside `up`, on_up_fail prints the one error line (with the log tail).
die() { ERRMSG=$*; [ "$IN_UP" = 1 ] || echo "$PROG: error: $*" >&2; exit 1; }
usage() { sed -n '5,8s/^# \{0,3\}//p' "$0" >&2; exit 2; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
note() { echo "[$(elapsed)s] $*" >&2; }

# Alnum from /dev/urandom. Read a fixed chunk first: `tr </dev/urandom | head`
# would die of SIGPIPE under pipefail.
rand() { local s; s=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc "$2"); echo "${s:0:$1}"; }

install_pkgs() {
  local p missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  note "installing missing packages: ${missing[*]}"
  # postinst scripts print systemd noise (no systemd here); nothing starts by itself.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${PKGS[@]}" >/dev/null
  for p in "${CMDS[@]}"; do command -v "$p" >/dev/null || die "install: $p still missing"; done
}

# A port counts as busy if any socket holds it locally, except TIME_WAIT
# (Ceph and beast bind with SO_REUSEADDR). /proc avoids depending on ss/netstat.
port_busy() {
  local hex; hex=$(printf ':%04X' "$1")
  awk -v h="$hex" 'NR>1 && $4!="06" && substr($2, length($2)-4)==h {f=1} END{exit !f}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
window_free() { local p; for ((p = $1; p <= $2; p++)); do ! port_busy "$p" || return 1; done; }

# ---------------------------------------------------------------- down ------
# True if PID's argv has exactly "$CONF": pid files can be stale and pids get
# reused, so this is the only proof that a process belongs to this lab.
owns() { grep -qxzF -- "$CONF" "/proc/$1/cmdline" 2>/dev/null; }

# Stop one daemon by its pid file: SIGTERM, SIGKILL after 15 s, wait until gone.
stop_one() {
  local name=$1 pid n
  pid=$(cat "$DIR/run/$name.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  owns "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((n = 0; n < 150; n++)); do owns "$pid" || break; sleep 0.1; done
  if owns "$pid"; then
    echo "$PROG: $name (pid $pid) ignored SIGTERM for 15 s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while owns "$pid"; do sleep 0.1; done
  fi
  rm -f "$DIR/run/$name.pid"
  STOPPED+=("$pid")
}

stop_daemons() {
  local name pid
  # One at a time, clients first: an osd whose mon is already gone waits
  # osd_mon_shutdown_timeout (5 s) to report itself down.
  STOPPED=()
  for name in client.rgw.gw osd.0 mon.a; do stop_one "$name"; done
  # A zombie has an empty cmdline (owns() is false) but `ps` lists it until
  # PID 1 reaps it, which here takes up to ~2 s; wait so callers see a clean table.
  local n
  for pid in "${STOPPED[@]}"; do
    for ((n = 0; n < 50; n++)); do
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || break
      sleep 0.1
    done
  done
  # Anything else naming our conf (a hung radosgw-admin, a daemon whose pid file
  # was lost) is reported, never killed: we did not start it from a pid file.
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    if [ "$pid" != $$ ] && owns "$pid"; then
      echo "$PROG: warning: pid $pid still uses $CONF: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
    fi
  done
  return 0
}

cmd_down() {
  [ -d "$DIR" ] || { echo "$PROG: $DIR: nothing to stop" >&2; return 0; }
  stop_daemons
  [ "$PURGE" = 1 ] || { echo "lab down: $DIR" >&2; return 0; }
  # rm -rf only what is recognisably a lab (or empty): a typo must not eat a tree.
  if ! grep -qs "^# generated by $PROG up" "$CONF"; then
    local f
    for f in "$DIR"/* "$DIR"/.[!.]*; do
      [ -e "$f" ] || continue
      case ${f##*/} in log | run | crash | mon.a | osd.0 | rgw.gw | keyring | mon-bootstrap.keyring | monmap) ;;
        *) die "down: $DIR does not look like a lab (${f##*/}; no $CONF of ours), not purging" ;;
      esac
    done
  fi
  rm -rf -- "$DIR"
  echo "lab down, purged $DIR" >&2
}

# ---------------------------------------------------------------- up --------
C() { timeout 60 ceph -c "$CONF" --connect-timeout 30 "$@" 2>>"$DIR/log/ceph-cli.err"; }
RA() { timeout 60 radosgw-admin -c "$CONF" "$@" 2>>"$DIR/log/radosgw-admin.err"; }

FAIL_LOG=""   # the log that explains a failure at the current stage
on_up_fail() {
  local rc=$?
  trap - EXIT
  [ "$rc" = 0 ] && return 0
  echo "$PROG: error: up $DIR (role $ROLE) failed after $(elapsed)s: ${ERRMSG:-"'$FAILED_CMD' exited $rc"}" >&2
  if [ -n "$FAIL_LOG" ] && [ -s "$FAIL_LOG" ]; then
    echo "  tail of $FAIL_LOG:" >&2
    tail -n 15 "$FAIL_LOG" | sed 's/^/    /' >&2
  fi
  if [ "${LAB_KEEP_ON_FAIL:-0}" = 1 ]; then echo "$PROG: LAB_KEEP_ON_FAIL=1: left running" >&2
  else stop_daemons; fi
  exit "$rc"
}

# Is KEY overridden in LAB_EXTRA_CONF? Ceph conf treats ' ' and '_' alike in keys
# (not '-'). Extras go last in [global]; dropping our default wherever it sits
# lets them win over the more specific [mon]/[client.rgw.gw] sections too.
EXTRA_KEYS=" "
overridden() { [[ $EXTRA_KEYS == *" ${1// /_} "* ]]; }
opt() { overridden "$1" || printf '\t%s = %s\n' "$1" "$2"; }

write_conf() {
  local kv k
  IFS=';' read -ra EXTRA <<<"${LAB_EXTRA_CONF:-}"
  for kv in "${EXTRA[@]}"; do
    [[ $kv == *=* ]] || continue
    k=$(echo "${kv%%=*}" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//; s/ \+/_/g')
    EXTRA_KEYS+="$k "
  done
  {
    echo "# generated by $PROG up (role $ROLE); everything lives under $DIR"
    echo "[global]"
    opt fsid "$(cat /proc/sys/kernel/random/uuid)"
    opt mon_host "v2:127.0.0.1:$MONPORT"
    opt public_addr 127.0.0.1;  opt cluster_addr 127.0.0.1;  opt ms_bind_ipv6 false
    # Per-lab port window for the osd: the default 6800-7300 may be shared with
    # other Ceph instances on the box; parallel labs must not collide.
    opt ms_bind_port_min "$((MONPORT + 1))";  opt ms_bind_port_max "$((MONPORT + 40))"
    opt keyring "$DIR/keyring"
    opt run_dir "$DIR/run";  opt crash_dir "$DIR/crash"
    opt admin_socket "$DIR/run/\$name.asok";  opt pid_file "$DIR/run/\$name.pid"
    opt log_file "$DIR/log/\$name.log";  opt mon_cluster_log_file "$DIR/log/cluster.log"
    # one OSD, one replica, few PGs (RGW creates 7 pools)
    opt osd_pool_default_size 1;  opt osd_pool_default_min_size 1
    opt mon_allow_pool_size_one true;  opt mon_warn_on_pool_no_redundancy false
    opt osd_crush_chooseleaf_type 0
    opt osd_pool_default_pg_num 8;  opt osd_pool_default_pgp_num 8
    opt osd_pool_default_pg_autoscale_mode off;  opt mon_max_pg_per_osd 1000
    opt mon_warn_on_insecure_global_id_reclaim_allowed false
    # a fullish dev disk must not stop the lab
    opt mon_osd_full_ratio .99;  opt mon_osd_backfillfull_ratio .99;  opt mon_osd_nearfull_ratio .99
    opt mon_data_avail_crit 1;  opt mon_data_avail_warn 1
    # RGW knobs live in [global] so LAB_EXTRA_CONF (also [global]) can replace them.
    opt rgw_data_log_num_shards "${LAB_DATALOG_SHARDS:-128}"
    opt rgw_override_bucket_index_max_shards "${LAB_INDEX_SHARDS:-11}"
    # 0 = no trim thread at all: with a realm RGW would otherwise trim the
    # logs every 20 min, and with no exporter answering it may trim everything.
    opt rgw_sync_log_trim_interval 0
    if [ "$ROLE" = source ]; then
      # radosgw-admin must address the same realm/zone as the gateway
      opt rgw_realm lab;  opt rgw_zonegroup zg1;  opt rgw_zone z1
    fi
    for kv in "${EXTRA[@]}"; do [[ $kv == *=* ]] && printf '\t%s\n' "${kv#"${kv%%[![:space:]]*}"}"; done
    echo "[mon]"
    opt mon_data "$DIR/mon.\$id";  opt keyring "$DIR/mon.\$id/keyring"
    # each pool create / application enable is one paxos round: 1 s by default,
    # which made bring-up 18 s instead of ~4 s
    opt paxos_propose_interval 0.05;  opt paxos_min_wait 0.01
    echo "[osd]"
    opt osd_data "$DIR/osd.\$id";  opt keyring "$DIR/osd.\$id/keyring"
    opt osd_objectstore memstore;  opt memstore_device_bytes "$((8 << 30))"
    opt osd_class_dir /usr/lib/x86_64-linux-gnu/rados-classes
    opt osd_op_num_shards 2;  opt osd_op_num_threads_per_shard 1
    echo "[client]"
    # CLI tools run concurrently; a per-pid socket avoids "asok already in use"
    opt admin_socket "$DIR/run/\$name.\$pid.asok"
    echo "[client.rgw.gw]"
    opt admin_socket "$DIR/run/\$name.asok"
    opt keyring "$DIR/rgw.gw/keyring";  opt log_file "$DIR/log/rgw.log"
    opt rgw_data "$DIR/rgw.gw"
    opt rgw_frontends "beast endpoint=127.0.0.1:$PORT"
    opt rgw_thread_pool_size 128
  } >"$CONF"
}

# Launch a self-daemonizing Ceph daemon; its pre-fork errors go to start.err.
start_daemon() { FAIL_LOG=$DIR/log/start.err; "$@" </dev/null >>"$DIR/log/start.err" 2>&1; }

# wait_for SECONDS DAEMON DESCRIPTION CMD...: poll CMD, but fail fast once
# DAEMON has written its pid file and died (bad config, port taken, ...).
wait_for() {
  local t=$1 name=$2 what=$3 i pid; shift 3
  for ((i = 0; i < t * 10; i++)); do
    "$@" && return 0
    pid=$(cat "$DIR/run/$name.pid" 2>/dev/null) || pid=""
    [ -z "$pid" ] || owns "$pid" || die "$name exited while waiting for $what"
    sleep 0.1
  done
  die "timed out after ${t}s waiting for $what"
}
mon_answers() { timeout 10 ceph -c "$CONF" --connect-timeout 3 mon stat >/dev/null 2>&1; }
osd_up() { [ "$(C osd stat -f json | jq -r '.num_up_osds')" = 1 ]; }
rgw_answers() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/")" != 000 ]; }

create_user() {   # uid access secret [extra radosgw-admin args]
  local uid=$1 ak=$2 sk=$3; shift 3
  RA user create --uid="$uid" --display-name="$uid" --access-key="$ak" --secret="$sk" "$@" >/dev/null
}

setup_source_zones() {
  FAIL_LOG=$DIR/log/radosgw-admin.err
  local ep="http://127.0.0.1:$PORT"
  RA realm create --rgw-realm=lab --default >/dev/null
  RA zonegroup create --rgw-realm=lab --rgw-zonegroup=zg1 --endpoints="$ep" --master --default >/dev/null
  # The zones' system key is the sync user's key: RGW signs inter-zone
  # requests with it, and the exporter authenticates the source by it.
  RA zone create --rgw-zonegroup=zg1 --rgw-zone=z1 --endpoints="$ep" --master --default \
    --access-key="$SYS_AK" --secret="$SYS_SK" >/dev/null
  # No radosgw serves this zone: the exporter will, on the exporter port.
  # tier-type cloud keeps z1 from ever pulling data from it.
  RA zone create --rgw-zonegroup=zg1 --rgw-zone=rgw2cloud --tier-type=cloud \
    --endpoints="http://127.0.0.1:$EXPORTER_PORT" --access-key="$SYS_AK" --secret="$SYS_SK" >/dev/null
  RA zone modify --rgw-zonegroup=zg1 --rgw-zone=z1 --sync-from-all=false >/dev/null
  # The commit makes RGW compute log_data = (zones > 1) = true for z1.
  RA period update --commit >/dev/null
}

write_env() {
  local k
  : >"$DIR/env"; : >"$DIR/env.sh"
  for k in "$@"; do
    printf '%s=%s\n' "$k" "${!k}" >>"$DIR/env"
    printf 'export %s=%q\n' "$k" "${!k}" >>"$DIR/env.sh"
  done
}

# shellcheck disable=SC2034  # the LAB_* variables are read by write_env via ${!k}
cmd_up() {
  [ -n "$ROLE" ] || die "up: --role source|target is required"
  [[ $ROLE == source || $ROLE == target ]] || die "up: bad role '$ROLE'"
  if [ -z "$PORT" ]; then if [ "$ROLE" = source ]; then PORT=18000; else PORT=18100; fi; fi
  [ "$ROLE" = source ] && [ -z "$EXPORTER_PORT" ] && EXPORTER_PORT=$((PORT + 90))
  if ! [[ $PORT =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 55000 ]; then die "up: bad --port '$PORT'"; fi
  [[ ${EXPORTER_PORT:-0} =~ ^[0-9]+$ ]] || die "up: bad --exporter-port '$EXPORTER_PORT'"
  if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then die "up: $DIR exists and is not empty"; fi
  install_pkgs
  port_busy "$PORT" && die "up: port $PORT is already in use"

  # mon at PORT+10000, osd window above it; move up by 41 until all is free.
  MONPORT=$((PORT + 10000))
  local tries=0
  until window_free "$MONPORT" $((MONPORT + 40)); do
    ((++tries < 20)) || die "up: no free 41-port window above $((PORT + 10000))"
    MONPORT=$((MONPORT + 41))
  done

  mkdir -p "$DIR"/{log,run,crash,mon.a,osd.0,rgw.gw}
  IN_UP=1
  set -E
  trap 'FAILED_CMD=$BASH_COMMAND' ERR
  trap on_up_fail EXIT
  write_conf

  # --- mon
  FAIL_LOG=$DIR/log/start.err
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool --create-keyring "$DIR/mon-bootstrap.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/mon-bootstrap.keyring" --import-keyring "$DIR/keyring" >/dev/null
  monmaptool --create --fsid "$(awk '$1=="fsid"{print $3}' "$CONF")" \
    --addv a "[v2:127.0.0.1:$MONPORT]" "$DIR/monmap" >/dev/null 2>>"$DIR/log/start.err"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon-bootstrap.keyring" \
    >>"$DIR/log/start.err" 2>&1
  rm -f "$DIR/monmap" "$DIR/mon-bootstrap.keyring"
  start_daemon ceph-mon -c "$CONF" -i a
  FAIL_LOG=$DIR/log/mon.a.log
  wait_for 30 mon.a "the mon to answer" mon_answers
  note "mon up (127.0.0.1:$MONPORT)"

  # --- osd (memstore: all data in RAM, ~2x the stored bytes)
  local uuid secret
  uuid=$(cat /proc/sys/kernel/random/uuid)
  secret=$(ceph-authtool --gen-print-key)
  echo "{\"cephx_secret\": \"$secret\"}" | C osd new "$uuid" -i - >/dev/null
  ceph-authtool --create-keyring "$DIR/osd.0/keyring" -n osd.0 --add-key "$secret" >/dev/null
  FAIL_LOG=$DIR/log/osd.0.log
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$DIR/log/start.err" 2>&1
  start_daemon ceph-osd -c "$CONF" -i 0
  FAIL_LOG=$DIR/log/osd.0.log
  wait_for 30 osd.0 "osd.0 to be up" osd_up
  note "osd up"

  # --- rgw identity, zones, users
  C auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' >"$DIR/rgw.gw/keyring"
  local vars=(LAB_ROLE LAB_ENDPOINT LAB_REGION LAB_CEPH_CONF LAB_DIR)
  LAB_ROLE=$ROLE LAB_ENDPOINT="http://127.0.0.1:$PORT" LAB_CEPH_CONF=$CONF LAB_DIR=$DIR
  if [ "$ROLE" = source ]; then
    SYS_AK=$(rand 20 'A-Z0-9') SYS_SK=$(rand 40 'A-Za-z0-9')
    setup_source_zones
    create_user sync-user "$SYS_AK" "$SYS_SK" --system \
      --caps='datalog=read;bilog=read;mdlog=read;buckets=read;metadata=read;users=read;usage=read;zone=read'
    LAB_USER_ACCESS_KEY=$(rand 20 'A-Z0-9') LAB_USER_SECRET_KEY=$(rand 40 'A-Za-z0-9')
    create_user alice "$LAB_USER_ACCESS_KEY" "$LAB_USER_SECRET_KEY"
    note "zones + users set"
  else
    FAIL_LOG=$DIR/log/radosgw-admin.err
    LAB_ACCESS_KEY=$(rand 20 'A-Z0-9') LAB_SECRET_KEY=$(rand 40 'A-Za-z0-9')
    create_user target "$LAB_ACCESS_KEY" "$LAB_SECRET_KEY"   # also creates the default zone
  fi

  # --- radosgw
  start_daemon radosgw -c "$CONF" -n client.rgw.gw
  FAIL_LOG=$DIR/log/rgw.log
  wait_for 30 client.rgw.gw "radosgw to answer on 127.0.0.1:$PORT" rgw_answers
  note "rgw answers on $LAB_ENDPOINT"

  # --- env files: ids come from the committed period, the source of truth
  if [ "$ROLE" = source ]; then
    local period
    period=$(RA period get)
    LAB_REGION=$(jq -r '.period_map.zonegroups[]|select(.name=="zg1")|.api_name' <<<"$period")
    LAB_ZONEGROUP=zg1 LAB_ZONE=z1 LAB_EXPORTER_ZONE=rgw2cloud LAB_EXPORTER_PORT=$EXPORTER_PORT
    LAB_SYSTEM_ACCESS_KEY=$SYS_AK LAB_SYSTEM_SECRET_KEY=$SYS_SK
    LAB_ZONEGROUP_ID=$(jq -r '.period_map.zonegroups[]|select(.name=="zg1")|.id' <<<"$period")
    LAB_ZONE_ID=$(jq -r '.period_map.zonegroups[].zones[]|select(.name=="z1")|.id' <<<"$period")
    LAB_EXPORTER_ZONE_ID=$(jq -r '.period_map.zonegroups[].zones[]|select(.name=="rgw2cloud")|.id' <<<"$period")
    [ "$(jq -r '[.period_map.zonegroups[].zones[]|select(.name=="z1")|.log_data][0]|tostring' <<<"$period")" = true ] ||
      die "committed period has log_data != true for z1: RGW would write no datalog/bilog"
    vars+=(LAB_SYSTEM_ACCESS_KEY LAB_SYSTEM_SECRET_KEY LAB_USER_ACCESS_KEY LAB_USER_SECRET_KEY
      LAB_ZONEGROUP LAB_ZONE LAB_EXPORTER_ZONE LAB_EXPORTER_PORT LAB_ZONEGROUP_ID LAB_ZONE_ID LAB_EXPORTER_ZONE_ID)
  else
    LAB_REGION=$(RA zonegroup get | jq -r '.api_name')
    vars+=(LAB_ACCESS_KEY LAB_SECRET_KEY)
  fi
  [ -n "$LAB_REGION" ] || LAB_REGION=default
  write_env "${vars[@]}"
  trap - EXIT
  local secs; secs=$(elapsed)
  echo "$secs" >"$DIR/bringup-seconds"
  echo "lab up: role=$ROLE endpoint=$LAB_ENDPOINT mon=127.0.0.1:$MONPORT dir=$DIR in ${secs}s (source $DIR/env.sh)"
}

# ---------------------------------------------------------------- selftest --
# Kept out of `up` on purpose: the probe bucket leaves datalog (and mdlog)
# entries for a deleted bucket instance, and tests want a pristine log.
s3() {  # s3 METHOD PATH [curl args]; as alice, SigV4 (region/service ignored by RGW)
  local m=$1 p=$2; shift 2
  curl -sS -f -m 20 -X "$m" --aws-sigv4 "aws:amz:$LAB_REGION:s3" \
    --user "$LAB_USER_ACCESS_KEY:$LAB_USER_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@" "$LAB_ENDPOINT$p"
}

cmd_selftest() {
  [ -f "$DIR/env.sh" ] || die "selftest: $DIR/env.sh missing (not up?)"
  # shellcheck disable=SC1091
  . "$DIR/env.sh"
  [ "$LAB_ROLE" = source ] || die "selftest: only for --role source labs"
  local b obj body i shard found=""
  b="lab-selftest-$(rand 8 'a-z0-9')" obj="probe-$(rand 6 'a-z0-9')" body="hello $RANDOM"
  # best effort: do not leave the probe bucket behind when a check fails
  trap 's3 DELETE "/$b/$obj" -o /dev/null 2>&1; s3 DELETE "/$b" -o /dev/null 2>&1; true' EXIT
  s3 PUT "/$b" -o /dev/null || die "selftest: create bucket $b failed"
  s3 PUT "/$b/$obj" --data-binary "$body" -o /dev/null || die "selftest: PUT failed"
  [ "$(s3 GET "/$b/$obj")" = "$body" ] || die "selftest: GET returned other bytes"

  RA bilog list --bucket="$b" | jq -e --arg o "$obj" \
    'any(.[]; .object==$o and .op=="write" and .state=="complete")' >/dev/null ||
    die "selftest: no bilog 'write complete' entry for $b/$obj"
  # `datalog list` without --shard-id always returns []; find non-empty shards.
  # The entry key is "bucket:instance:shard" (radosgw-admin prints it flat,
  # REST wraps it in .entry).
  for ((i = 0; i < 20; i++)); do
    for shard in $(RA datalog status | jq -r 'to_entries[]|select(.value.marker!="")|.key'); do
      if RA datalog list --shard-id="$shard" |
        jq -e --arg b "$b:" 'any(.[]; (.key // .entry.key // "") | startswith($b))' >/dev/null; then
        found=$shard; break 2
      fi
    done
    sleep 0.2
  done
  [ -n "$found" ] || die "selftest: no datalog entry for bucket $b"

  RA period get | jq -e '[.period_map.zonegroups[].zones[]] |
      length == 2 and all(.log_data | tostring == "true")' >/dev/null ||
    die "selftest: period lacks 2 zones with log_data=true"
  trap - EXIT
  { s3 DELETE "/$b/$obj" -o /dev/null && s3 DELETE "/$b" -o /dev/null; } || die "selftest: cleanup of $b failed"
  echo "selftest ok: PUT $b/$obj -> bilog write entry + datalog shard $found; period has 2 zones, log_data=true"
}

# ---------------------------------------------------------------- main ------
[ $# -ge 1 ] || usage
SUB=$1; shift
DIR="" ROLE="" PORT="" EXPORTER_PORT="" PURGE=0
case $SUB in
  install) [ $# -eq 0 ] || usage; install_pkgs; exit 0 ;;
  up | down | selftest) [ $# -ge 1 ] || usage; DIR=$1; shift ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
while [ $# -gt 0 ]; do
  case $1 in
    --role) ROLE=${2:?}; shift 2 ;;
    --port) PORT=${2:?}; shift 2 ;;
    --exporter-port) EXPORTER_PORT=${2:?}; shift 2 ;;
    --purge) PURGE=1; shift ;;
    *) die "unknown argument '$1'" ;;
  esac
done
# Absolute path: the ownership test compares argv against it verbatim.
DIR=$(realpath -m -- "$DIR")
[ "$DIR" != / ] || die "refusing DIR=/"
CONF=$DIR/ceph.conf
"cmd_$SUB"
