#!/usr/bin/env bash
# Proxy CPU time per call (or per challenged registration) at a fixed rate: one proxy with
# one worker (Ringlet `workers = 1`, Kamailio `-n 1`) on loopback, `ringlet load` as UAC
# and UAS. CPU = on-CPU ns of every process of the proxy (every thread counted once, from
# /proc/<pid>/task/<tid>/schedstat) before and after the load, divided by the calls that
# succeeded (us_per_op; us_per_attempt divides by succeeded + failed, the fairer figure for a
# proxy that drops calls at that rate). See benches/results/cpu_per_call.md.
#
# Usage: benches/cpu_per_call.sh ringlet|kamailio
# Env: WORKERS (proxy workers / Kamailio children, 1) COALESCE_US (Ringlet [runtime] coalesce_us, 200) RATE (2000) DUR (10 s) SCEN (call | register) ENABLED (Ringlet [auth], default
#      false: calls come from a trusted peer) KAMAUTH=1 (Kamailio -A WITH_AUTH, for
#      register) RINGLET (proxy binary) LOADBIN (load generator binary) OLDCFG=1 (binaries
#      from before [registrar] db_path) PERF=file (perf record -g the proxy; PERF_FREQ Hz,
#      2000) PERF=x PSTAT=file (perf stat of syscalls, context switches, hrtimers, page
#      faults instead) SHOWOUT=1 GEN=sipp (sipp UAC and UAS instead of `ringlet load`,
#      calls only; WARM=s runs the load that long, unmeasured, first) THP=true ([runtime]
#      transparent_huge_pages) RECV_BUFFERS ([runtime] recv_buffers, 1024) CORES ([runtime] cores,
#      none; auto pins worker i to core i, ~2 µs dearer per call here with sipp on the same cores)
set -euo pipefail
SIDE=$1
RINGLET=${RINGLET:-target/release/ringlet}
LOADBIN=${LOADBIN:-$RINGLET}
RATE=${RATE:-2000}; DUR=${DUR:-10}; USERS=${USERS:-200}; SCEN=${SCEN:-call}
PORT=${PORT:-27160}; UAS=$((PORT + 20)); DOMAIN=load.test
ROOT=$(pwd)
tmp=$(mktemp -d /tmp/ringlet-cpubench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; grep -o "stopped.*" "$tmp/proxy.log" || true; rm -rf "$tmp"; }
trap cleanup EXIT
: > "$tmp/users.txt"; : > "$tmp/subscribers.cfg"
# Calls come from a trusted peer (not challenged); registrations must be challenged, so the
# generator's address is not a peer for them (a trusted peer's REGISTER is not challenged).
printf 'domain %s\n' "$DOMAIN" > "$tmp/ringlet.table"
[ "$SCEN" = call ] && echo "peer 127.0.0.1 name=loadgen" >> "$tmp/ringlet.table"
for i in $(seq 1 "$USERS"); do
  u="load$i"; p="pw-$i"
  md5=$(printf '%s:%s:%s' "$u" "$DOMAIN" "$p" | md5sum | cut -d' ' -f1)
  sha=$(printf '%s:%s:%s' "$u" "$DOMAIN" "$p" | sha256sum | cut -d' ' -f1)
  echo "$u $DOMAIN $p" >> "$tmp/users.txt"
  echo "\$sht(ha1=>$u@$DOMAIN) = \"$md5\";" >> "$tmp/subscribers.cfg"
  echo "user $u@$DOMAIN md5=$md5 sha256=$sha" >> "$tmp/ringlet.table"
done
case $SIDE in
ringlet)
  cat > "$tmp/ringlet.toml" <<TOML
listen = ["127.0.0.1:$PORT"]
log_level = "info"
[runtime]
workers = ${WORKERS:-1}
cores = "${CORES:-none}"
coalesce_us = ${COALESCE_US:-200}
transparent_huge_pages = ${THP:-false}
recv_buffers = ${RECV_BUFFERS:-1024}
[files]
table = "$tmp/ringlet.table"
$(if [ -n "${OLDCFG:-}" ]; then echo "registrations = \"$tmp/registrations.db\""; else printf '[registrar]\ndb_path = "%s"' "$tmp/registrations.db"; fi)
[management]
listen = "127.0.0.1:$((PORT + 30))"
[auth]
enabled = ${ENABLED:-false}
algorithms = ["MD5"]
pike_threshold = 0
TOML
  timeout 300 "$RINGLET" run --config "$tmp/ringlet.toml" > "$tmp/proxy.log" 2>&1 &
  pid=$!;;
kamailio)
  cp "$ROOT/tuning/kamailio/kamailio.cfg" "$tmp/kamailio.cfg"
  timeout 300 kamailio -f "$tmp/kamailio.cfg" -DD -E -w "$tmp" -P "$tmp/kamailio.pid" \
    ${KAMAUTH:+-A WITH_AUTH} -A "LISTEN_PORT=$PORT" -n ${WORKERS:-1} -m 256 -M 16 > "$tmp/proxy.log" 2>&1 &
  pid=$!;;
esac
for _ in $(seq 50); do ss -Hlun "sport = :$PORT" | grep -q . && break; sleep 0.1; done
sleep 1
cpu_ns() {
  local total=0 p t
  for p in $(pstree -p -T "$pid" | grep -o '([0-9]*)' | tr -d '()'); do
    for t in /proc/$p/task/*/schedstat; do
      [ -r "$t" ] && total=$((total + $(cut -d' ' -f1 "$t")))
    done
  done
  echo $total
}
if [ -n "${PERF:-}" ]; then
  wpid=$(pstree -p -T "$pid" | grep -o '([0-9]*)' | tr -d '()' | tail -1)
  if [ -n "${PSTAT:-}" ]; then perf stat -e raw_syscalls:sys_enter,sched:sched_switch,timer:hrtimer_start,io_uring:io_uring_cqring_wait,page-faults,context-switches -p "$wpid" -o "$PSTAT" -- sleep $((DUR - 1)) & else perf record -F ${PERF_FREQ:-2000} -g -p "$wpid" -o "$PERF" -- sleep $((DUR - 1)) >/dev/null 2>&1 & fi
fi
if [ "${GEN:-ringlet}" = sipp ]; then
  # sipp as UAC and UAS (tests/sipp/load_uac.xml, load_uas.xml: INVITE, 100, 180, 200,
  # ACK, 100 ms hold, BYE, 200), RATE calls/s for DUR seconds.
  [ "$SCEN" = call ] || { echo "GEN=sipp: calls only" >&2; exit 2; }
  n=$((RATE * DUR)); warm=${WARM:-0}
  timeout $((DUR + warm + 60)) sipp -sf "$ROOT/tests/sipp/load_uas.xml" -i 127.0.0.1 -p "$UAS" -m $((n + RATE * warm)) -nostdin \
    -trace_stat -stf "$tmp/uas.csv" > "$tmp/uas.out" 2>&1 &
  uaspid=$!
  sleep 0.5
  if [ "$warm" -gt 0 ]; then
    # Steady state: finished transactions linger 32 s (Timer J/L; Kamailio's wait timer is
    # 5 s), so the first 32 s fill tables and heaps that later calls reuse. WARM=35 runs the
    # same load that long, unmeasured, before the measured DUR seconds.
    timeout $((warm + 60)) sipp -sf "$ROOT/tests/sipp/load_uac.xml" -i 127.0.0.1 -p $((UAS + 1)) \
      -rsa "127.0.0.1:$PORT" "127.0.0.1:$UAS" -s uas -m $((RATE * warm)) -r "$RATE" -nostdin \
      > "$tmp/warm.out" 2>&1 || true
  fi
  before=$(cpu_ns)
  timeout $((DUR + 60)) sipp -sf "$ROOT/tests/sipp/load_uac.xml" -i 127.0.0.1 -p $((UAS + 1)) \
    -rsa "127.0.0.1:$PORT" "127.0.0.1:$UAS" -s uas -m "$n" -r "$RATE" -nostdin \
    -trace_stat -stf "$tmp/uac.csv" > "$tmp/uac.out" 2>&1 || true
  after=$(cpu_ns)
  kill "$uaspid" 2>/dev/null || true
  col() { awk -F';' -v k="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i } { last = $0 }
          END { n = split(last, v, ";"); print v[c] + 0 }' "$1"; }
  ok=$(col "$tmp/uac.csv" "SuccessfulCall(C)"); failed=$(col "$tmp/uac.csv" "FailedCall(C)")
  retr=$(col "$tmp/uac.csv" "Retransmissions(C)")
  [ -n "${SHOWOUT:-}" ] && tail -3 "$tmp/uac.out"
else
before=$(cpu_ns)
if [ "$SCEN" = call ]; then UARGS=""; else UARGS="--users $tmp/users.txt"; fi
out=$(timeout $((DUR + 60)) "$LOADBIN" load --proxy "127.0.0.1:$PORT" --uas "127.0.0.1:$UAS" \
  --scenario "$SCEN" $UARGS --rate "$RATE" --duration "$DUR" --json --quiet || true)
after=$(cpu_ns)
[ -n "${SHOWOUT:-}" ] && echo "$out"
ok=$(printf '%s' "$out" | grep -o '"succeeded":[0-9]*' | head -1 | cut -d: -f2 || true)
failed=$(printf '%s' "$out" | grep -o '"failed":[0-9]*' | head -1 | cut -d: -f2 || true)
retr=$(printf "%s" "$out" | grep -o "\"retransmissions[a-z_]*\":[0-9]*" | head -1 | cut -d: -f2 || true)
fi
cpu=$((after - before))
[ -n "${SHOWLOG:-}" ] && cat "$tmp/proxy.log" | tail -5
echo "$SIDE scen=$SCEN rate=$RATE dur=$DUR ok=$ok failed=$failed retrans=${retr:-?} proxy_cpu_ms=$((cpu / 1000000)) us_per_op=$(awk -v c=$cpu -v n=$ok 'BEGIN{ if (n>0) printf "%.1f", c/n/1000; else print "n/a" }') us_per_attempt=$(awk -v c=$cpu -v n=$ok -v f=${failed:-0} 'BEGIN{ if (n+f>0) printf "%.1f", c/(n+f)/1000; else print "n/a" }')"
