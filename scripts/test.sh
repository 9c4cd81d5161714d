#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian machine:
# installs what is missing, builds (warnings are errors), runs the unit suite
# (also under ASan+UBSan), brings up the lab (a source zone and a target, real
# Ceph, 127.0.0.1 only) once, runs the integration suite against it, tears
# the lab down, and ends with one line "N passed, N failed".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build-test}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
LAB=${LAB:-$ROOT/lab/test}
SRC_PORT=${SRC_PORT:-18000}
DST_PORT=${DST_PORT:-18100}
EXPORTER_PORT=${EXPORTER_PORT:-18090}

log() { printf '== %s\n' "$*"; }

bash scripts/install-deps.sh

log "build ($BUILD, --werror)"
if [ ! -d "$BUILD" ]; then
    meson setup "$BUILD" --werror >/dev/null
fi
ninja -C "$BUILD"

log "build ($ASAN_BUILD, ASan+UBSan)"
if [ ! -d "$ASAN_BUILD" ]; then
    meson setup "$ASAN_BUILD" --werror -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$ASAN_BUILD"

failed=0
log "unit suite"
meson test -C "$BUILD" --suite unit --print-errorlogs || failed=1
log "unit suite under ASan+UBSan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$ASAN_BUILD" --suite unit --print-errorlogs || failed=1

lab_down() {
    bash scripts/lab.sh down "$LAB/source" --purge || true
    bash scripts/lab.sh down "$LAB/target" --purge || true
}
trap lab_down EXIT
lab_down
mkdir -p "$LAB"
log "lab: target on $DST_PORT, source on $SRC_PORT"
LAB_EXTRA_CONF='rgw_dns_name = localhost' \
    bash scripts/lab.sh up "$LAB/target" --role target --port "$DST_PORT"
# Log trimming on (every 10 s): the source asks our listener for our
# markers before it trims (test_sync's trim-safety scenario).
LAB_EXTRA_CONF='rgw_sync_log_trim_interval = 10' \
    bash scripts/lab.sh up "$LAB/source" --role source --port "$SRC_PORT" \
    --exporter-port "$EXPORTER_PORT"
export LAB_TARGET_ENV="$LAB/target/env" LAB_SOURCE_ENV="$LAB/source/env"

log "integration suite"
meson test -C "$BUILD" --suite integration --print-errorlogs || failed=1

# The closing line CI reads: counts of every check (TAP subtests) of both
# suites and builds, from meson's JSON test logs.
python3 - "$BUILD/meson-logs/testlog.json" "$ASAN_BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout") or ""
        ok = sum(1 for l in out.splitlines() if l.startswith("ok "))
        bad = sum(1 for l in out.splitlines() if l.startswith("not ok "))
        passed += ok
        failed += bad
        if t.get("result") not in ("OK", "EXPECTEDFAIL") and bad == 0:
            failed += 1  # crashed or timed out before reporting a failure
print(f"tests: {passed} passed, {failed} failed")
PY
exit $failed
