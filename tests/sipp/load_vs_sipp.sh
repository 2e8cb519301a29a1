#!/usr/bin/env bash
# load_vs_sipp.sh: `ringlet load` must count what sipp counts.
#
# The same call scenario (INVITE, 100, 180, 200 + SDP, ACK, 100 ms hold, BYE, 200, through
# the proxy's Record-Route set) at a rate sipp sustains easily, through the same proxy,
# four ways:
#
#   1. sipp UAC         -> proxy -> sipp UAS           (the reference)
#   2. ringlet load UAC -> proxy -> ringlet load UAS
#   3. ringlet load UAC -> proxy -> sipp UAS           (our UAC against a foreign UAS)
#   4. sipp UAC         -> proxy -> ringlet load UAS   (a foreign UAC against our UAS)
#
# Every run must complete all CALLS calls with no failure, and every side's count must
# equal the others'. Exit status 0 when all agree, 1 on any mismatch, 2 on a setup error.
#
# Usage: tests/sipp/load_vs_sipp.sh [path/to/ringlet]     (default target/release/ringlet)
# Environment:
#   PROXY=kamailio|ringlet   the proxy in the middle (default: kamailio when installed,
#                            else `ringlet run`)
#   CALLS=50 RATE=10         calls per run and calls per second
#   BASE_PORT=25060          ports BASE..BASE+40 on 127.0.0.1 are used
# Loopback only; every process is started by this script, bounded by `timeout`, and
# stopped on exit.
set -euo pipefail

RINGLET=${1:-target/release/ringlet}
CALLS=${CALLS:-50}
RATE=${RATE:-10}
BASE_PORT=${BASE_PORT:-25060}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

PROXY_PORT=$BASE_PORT
SIPP_UAS_PORT=$((BASE_PORT + 10))
SIPP_UAC_PORT=$((BASE_PORT + 11))
RL_UAS_PORT=$((BASE_PORT + 20))
MGMT_PORT=$((BASE_PORT + 30))

if [ -z "${PROXY:-}" ]; then
    if command -v kamailio >/dev/null 2>&1; then PROXY=kamailio; else PROXY=ringlet; fi
fi
command -v sipp >/dev/null 2>&1 || { echo "load_vs_sipp: sipp not installed" >&2; exit 2; }
[ -x "$RINGLET" ] || { echo "load_vs_sipp: no ringlet binary at $RINGLET" >&2; exit 2; }

tmp=$(mktemp -d /tmp/ringlet-load-vs-sipp.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Per-run wall-clock bound: the calls at RATE plus set-up, drain and margin.
RUN_SECS=$(( CALLS / RATE + 30 ))

wait_udp_port() {
    local port=$1
    for _ in $(seq 1 50); do
        if ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
        sleep 0.1
    done
    echo "load_vs_sipp: nothing listens on udp 127.0.0.1:$port" >&2
    return 1
}

start_proxy() {
    case "$PROXY" in
        kamailio)
            cp "$ROOT/tuning/kamailio/kamailio.cfg" "$tmp/kamailio.cfg"
            : > "$tmp/subscribers.cfg"
            timeout $((RUN_SECS * 5)) kamailio -f "$tmp/kamailio.cfg" -DD -E -w "$tmp" -P "$tmp/kamailio.pid" \
                -A "LISTEN_PORT=$PROXY_PORT" -n 2 -m 64 -M 8 > "$tmp/proxy.log" 2>&1 &
            pids+=($!)
            ;;
        ringlet)
            cat > "$tmp/ringlet.toml" <<EOF
listen = ["127.0.0.1:$PROXY_PORT"]
[runtime]
workers = 1
cores = "none"
[files]
table = "$tmp/ringlet.table"
[registrar]
# In memory, like kamailio.cfg (usrloc db_mode 0).
db_path = ""
[management]
listen = "127.0.0.1:$MGMT_PORT"
EOF
            # The load generators call each other through the proxy (a relay): trust loopback.
            printf 'domain load.test\npeer 127.0.0.1\n' > "$tmp/ringlet.table"
            timeout $((RUN_SECS * 5)) "$RINGLET" run --config "$tmp/ringlet.toml" > "$tmp/proxy.log" 2>&1 &
            pids+=($!)
            ;;
        *)
            echo "load_vs_sipp: PROXY must be kamailio or ringlet" >&2
            exit 2
            ;;
    esac
    wait_udp_port "$PROXY_PORT" || { cat "$tmp/proxy.log" >&2; exit 2; }
}

# sipp's statistics file: the final line's SuccessfulCall(C) and FailedCall(C) columns.
sipp_counts() {
    local csv=$1
    [ -s "$csv" ] || { echo "0 -1"; return; }
    awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(C)") s = i; if ($i == "FailedCall(C)") f = i } }
               { last = $0 } END { n = split(last, v, ";"); print v[s] + 0, v[f] + 0 }' "$csv"
}

# One number from `ringlet load --json` (keys are unique in its output).
json_num() {
    grep -o "\"$2\":[0-9]*" "$1" | head -1 | cut -d: -f2
}

sipp_uas() { # name; sets uas_pid
    timeout "$RUN_SECS" sipp -sf "$HERE/load_uas.xml" -i 127.0.0.1 -p "$SIPP_UAS_PORT" -m "$CALLS" -nostdin \
        -trace_stat -stf "$tmp/$1.uas.csv" -trace_err -error_file "$tmp/$1.uas.err" > "$tmp/$1.uas.out" 2>&1 &
    uas_pid=$!
    pids+=("$uas_pid")
}

sipp_uac() { # name target-port
    timeout "$RUN_SECS" sipp -sf "$HERE/load_uac.xml" -i 127.0.0.1 -p "$SIPP_UAC_PORT" -rsa "127.0.0.1:$PROXY_PORT" \
        "127.0.0.1:$2" -s uas -m "$CALLS" -r "$RATE" -nostdin \
        -trace_stat -stf "$tmp/$1.uac.csv" -trace_err -error_file "$tmp/$1.uac.err" > "$tmp/$1.uac.out" 2>&1 || true
}

# A 100 ms hold between ACK and BYE, as in load_uac.xml: with no hold, a proxy that reads
# one socket from several processes (Kamailio's children) may relay the BYE before the ACK,
# and a strict UAS (sipp) aborts such a call.
rl_common=(--scenario call --proxy "127.0.0.1:$PROXY_PORT" --rate "$RATE" --hold-ms 100 --json --quiet --drain 10)

failures=0
report() { # label expected got
    if [ "$2" = "$3" ]; then
        printf '  ok    %-44s %s\n' "$1" "$3"
    else
        printf '  FAIL  %-44s expected %s, got %s\n' "$1" "$2" "$3"
        failures=$((failures + 1))
    fi
}

start_proxy
echo "load_vs_sipp: $CALLS calls at $RATE/s through $PROXY on 127.0.0.1:$PROXY_PORT"

echo "1. sipp UAC -> $PROXY -> sipp UAS"
sipp_uas ref
wait_udp_port "$SIPP_UAS_PORT"
sipp_uac ref "$SIPP_UAS_PORT"
wait "$uas_pid" 2>/dev/null || true
read -r ok fail < <(sipp_counts "$tmp/ref.uac.csv")
report "sipp UAC successful calls" "$CALLS" "$ok"
report "sipp UAC failed calls" 0 "$fail"
read -r ok fail < <(sipp_counts "$tmp/ref.uas.csv")
report "sipp UAS successful calls" "$CALLS" "$ok"

echo "2. ringlet load UAC -> $PROXY -> ringlet load UAS"
timeout "$RUN_SECS" "$RINGLET" load "${rl_common[@]}" --uas "127.0.0.1:$RL_UAS_PORT" --count "$CALLS" \
    > "$tmp/rl.json" 2> "$tmp/rl.err" || true
report "ringlet load succeeded" "$CALLS" "$(json_num "$tmp/rl.json" succeeded)"
report "ringlet load failed" 0 "$(json_num "$tmp/rl.json" failed)"
report "ringlet load retransmissions sent" 0 "$(json_num "$tmp/rl.json" retransmissions_sent)"
report "ringlet load UAS INVITEs" "$CALLS" "$(json_num "$tmp/rl.json" invites)"
report "ringlet load UAS ACKs" "$CALLS" "$(json_num "$tmp/rl.json" acks)"
report "ringlet load UAS BYEs" "$CALLS" "$(json_num "$tmp/rl.json" byes)"

echo "3. ringlet load UAC -> $PROXY -> sipp UAS"
sipp_uas x1
wait_udp_port "$SIPP_UAS_PORT"
timeout "$RUN_SECS" "$RINGLET" load "${rl_common[@]}" --role uac --target "sip:uas@127.0.0.1:$SIPP_UAS_PORT" \
    --count "$CALLS" > "$tmp/x1.json" 2> "$tmp/x1.err" || true
wait "$uas_pid" 2>/dev/null || true
report "ringlet load UAC succeeded" "$CALLS" "$(json_num "$tmp/x1.json" succeeded)"
report "ringlet load UAC failed" 0 "$(json_num "$tmp/x1.json" failed)"
read -r ok fail < <(sipp_counts "$tmp/x1.uas.csv")
report "sipp UAS successful calls" "$CALLS" "$ok"

echo "4. sipp UAC -> $PROXY -> ringlet load UAS"
timeout "$RUN_SECS" "$RINGLET" load "${rl_common[@]}" --role uas --uas "127.0.0.1:$RL_UAS_PORT" \
    --duration $(( CALLS / RATE + 5 )) > "$tmp/x2.json" 2> "$tmp/x2.err" &
rl=$!
pids+=("$rl")
wait_udp_port "$RL_UAS_PORT"
sipp_uac x2 "$RL_UAS_PORT"
wait "$rl" 2>/dev/null || true
read -r ok fail < <(sipp_counts "$tmp/x2.uac.csv")
report "sipp UAC successful calls" "$CALLS" "$ok"
report "sipp UAC failed calls" 0 "$fail"
report "ringlet load UAS INVITEs" "$CALLS" "$(json_num "$tmp/x2.json" invites)"
report "ringlet load UAS answered" "$CALLS" "$(json_num "$tmp/x2.json" answered)"
report "ringlet load UAS BYEs" "$CALLS" "$(json_num "$tmp/x2.json" byes)"

if [ "$failures" -gt 0 ]; then
    echo "load_vs_sipp: $failures mismatch(es)"
    for f in "$tmp"/*.err; do
        [ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; }
    done
    exit 1
fi
echo "load_vs_sipp: all counts agree"
