#!/usr/bin/env bash
# raw.sh - the servers' limit for bench/run.sh: plain curl GET -> PUT, in parallel.
#
#   raw.sh large LIST CONC   LIST lines: "<source url> <size> <presigned target PUT url>"
#   raw.sh small LIST CONC TARGET_BASE TMPDIR
#                            LIST lines: "<bucket>/<key>" (source path = target suffix);
#                            target URL = TARGET_BASE/<bucket>/<key>
#
# Source and target credentials come from the environment: SRC_AK SRC_SK SRC_REGION,
# TGT_AK TGT_SK TGT_REGION, SRC_EP (source endpoint).
#
# large: one pipe per object, `curl GET | curl PUT -T -`, CONC pipes at a time. A PUT
#   from a pipe needs its length (RGW answers 411 to chunked uploads), and curl sends
#   "Transfer-Encoding: chunked" for stdin unless the header is removed; but
#   --aws-sigv4 then signs the removed header (403). So the PUT uses a query-string
#   (presigned) SigV4 URL made before the clock starts, with -H "Content-Length: N"
#   -H "Transfer-Encoding:": the bytes stream straight through, nothing is buffered.
# small: CONC workers; each takes every CONC-th object and works in batches of
#   BATCH: one curl GETs a whole batch into TMPDIR (a tmpfs) over one keep-alive
#   connection, then one curl PUTs that batch (-T file: the length is known, so
#   --aws-sigv4 with x-amz-content-sha256: UNSIGNED-PAYLOAD) in the background
#   while the next batch is fetched. Every response code is checked.
set -euo pipefail
BATCH=${RAW_BATCH:-32}
mode=${1:?mode}

s3src=(--aws-sigv4 "aws:amz:${SRC_REGION}:s3" --user "${SRC_AK}:${SRC_SK}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
s3tgt=(--aws-sigv4 "aws:amz:${TGT_REGION}:s3" --user "${TGT_AK}:${TGT_SK}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')

one_large() {  # src_url size put_url
  curl -sS -f "${s3src[@]}" "$1" |
    curl -sS -f -o /dev/null -T - -H "Content-Length: $2" -H "Transfer-Encoding:" "$3"
}

case $mode in
  large)
    list=${2:?list} conc=${3:?conc} st=$(mktemp -d)
    i=0
    while read -r u sz pu; do
      while [ "$(jobs -rp | wc -l)" -ge "$conc" ]; do wait -n || true; done
      ( set -o pipefail; one_large "$u" "$sz" "$pu"; echo $? >"$st/$i" ) &
      i=$((i + 1))
    done <"$list"
    wait
    ok=$(cat "$st"/* 2>/dev/null | grep -c '^0$' || true)
    rm -rf "$st"
    if [ "$ok" != "$i" ]; then echo "raw.sh: $((i - ok)) of $i pipes failed" >&2; exit 1; fi
    ;;
  small)
    list=${2:?list} conc=${3:?conc} tbase=${4:?target base} tmp=${5:?tmpdir}
    worker() {  # worker index
      local w=$1 b=0 n=0 putpid="" objs=() codes=$tmp/codes.$1
      : >"$codes"
      flush() {
        [ ${#objs[@]} -gt 0 ] || return 0
        local d=$tmp/w$w.b$b o gcfg pcfg
        mkdir -p "$d"
        gcfg=$d.get pcfg=$d.put
        : >"$gcfg"; : >"$pcfg"
        for o in "${objs[@]}"; do
          printf 'url = "%s/%s"\noutput = "%s/%s"\n' "$SRC_EP" "$o" "$d" "${o//\//_}" >>"$gcfg"
          printf 'upload-file = "%s/%s"\nurl = "%s/%s"\n' "$d" "${o//\//_}" "$tbase" "$o" >>"$pcfg"
        done
        curl -sS "${s3src[@]}" -w '%{http_code}\n' -K "$gcfg" >>"$codes"
        [ -z "$putpid" ] || wait "$putpid"
        { curl -sS "${s3tgt[@]}" -o /dev/null -w '%{http_code}\n' -K "$pcfg" >>"$codes"; rm -rf "$d" "$gcfg" "$pcfg"; } &
        putpid=$!
        objs=() b=$((b + 1))
      }
      while read -r o; do
        if [ $((n % conc)) -eq "$w" ]; then
          objs+=("$o")
          [ ${#objs[@]} -lt "$BATCH" ] || flush
        fi
        n=$((n + 1))
      done <"$list"
      flush
      [ -z "$putpid" ] || wait "$putpid"
    }
    pids=()
    for ((w = 0; w < conc; w++)); do worker "$w" & pids+=($!); done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    bad=$(cat "$tmp"/codes.* | grep -cv '^200$' || true)
    total=$(cat "$tmp"/codes.* | wc -l)
    if [ "$bad" != 0 ] || [ "$rc" != 0 ]; then
      echo "raw.sh: $bad of $total requests did not answer 200 (rc $rc)" >&2
      exit 1
    fi
    ;;
  *) echo "usage: raw.sh large|small ..." >&2; exit 2 ;;
esac
