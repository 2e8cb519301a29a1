#!/usr/bin/env bash
# Provider routing against real SIP stacks (sipp), through `ringlet run` on loopback:
#   1. two users register, one calls the other (answered, ACK, BYE through Record-Route);
#   2. a callee answers 486: the call lands on voicemail, mailbox b<user>, Diversion user-busy;
#   3. a callee rings and never answers: after its no-answer timeout (3 s) the proxy cancels
#      it and the call lands on voicemail, mailbox u<user>, Diversion no-answer;
#   4. the caller cancels while that callee rings: 487, and voicemail never sees the call.
# Usage: provider_forward.sh path/to/ringlet. Loopback only; every step bounded; exits
# non-zero on the first failure.
set -euo pipefail

RINGLET=${1:?usage: $0 path/to/ringlet}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/ringlet-provider.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$TMP/ringlet.log" ] && tail -30 "$TMP/ringlet.log" >&2; exit 1; }

# Free UDP ports on 127.0.0.1: proxy, alice, bob, carol (busy), dan (no answer), voicemail.
read -r PROXY_PORT ALICE_PORT BOB_PORT CAROL_PORT DAN_PORT VM_PORT < <(python3 - <<'PY'
import socket
socks = []
for _ in range(6):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)

HA1=md5=00000000000000000000000000000000
cat >"$TMP/provider.table" <<TABLE
domain example.test
user alice@example.test $HA1
user bob@example.test $HA1
user carol@example.test $HA1
user dan@example.test $HA1
forward carol@example.test busy sip:vm@127.0.0.1:$VM_PORT
forward dan@example.test no-answer sip:vm@127.0.0.1:$VM_PORT timeout=3
voicemail default sip:vm@127.0.0.1:$VM_PORT
TABLE

cat >"$TMP/ringlet.toml" <<TOML
listen = ["127.0.0.1:$PROXY_PORT"]
[runtime]
workers = 1
cores = "none"
drain_ms = 100
[files]
table = "$TMP/provider.table"
# Digest is tested by auth_register_call.sh; here the phones are trusted by their From/To.
[auth]
enabled = false
[registrar]
db_path = "$TMP/registrations.db"
TOML

"$RINGLET" run --config "$TMP/ringlet.toml" >"$TMP/ringlet.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
  grep -q "listening\|table" "$TMP/ringlet.log" 2>/dev/null && break
  sleep 0.1
done
sleep 0.3
kill -0 "${PIDS[0]}" 2>/dev/null || fail "ringlet did not start"

SIPP_COMMON=(-i 127.0.0.1 -m 1 -timeout 20s -timeout_error -nostdin -trace_err)

# sipp NAME PORT SCENARIO [args...]: one bounded sipp run towards the proxy.
sipp_run() {
  local port=$1 sf=$2; shift 2
  timeout 30 sipp 127.0.0.1:"$PROXY_PORT" -p "$port" -sf "$sf" "${SIPP_COMMON[@]}" \
    -error_file "$TMP/sipp-$port-$(basename "$sf" .xml).err" "$@" >/dev/null 2>&1
}

register() { sipp_run "$2" "$HERE/provider_register.xml" -s "$1" || fail "REGISTER $1"; }

# A UAS in the background on PORT with SCENARIO; its pid in $UAS_PID.
uas() {
  timeout 40 sipp -p "$1" -sf "$2" "${SIPP_COMMON[@]}" -error_file "$TMP/uas-$1.err" \
    -trace_msg -message_file "$TMP/uas-$1-$3.msg" >/dev/null 2>&1 &
  UAS_PID=$!
  PIDS+=("$UAS_PID")
  sleep 0.3
}

voicemail_expecting() { # MAILBOX OWNER REASON
  sed -e "s/MAILBOX/$1/" -e "s/OWNER/$2/" -e "s/REASON/$3/" "$HERE/provider_voicemail.xml" >"$TMP/vm-$1.xml"
  uas "$VM_PORT" "$TMP/vm-$1.xml" "vm-$1"
  VM_PID=$UAS_PID
}

echo "1. register bob and alice, alice calls bob"
register bob "$BOB_PORT"
register alice "$ALICE_PORT"
uas "$BOB_PORT" "$HERE/provider_uas_answer.xml" bob
BOB_PID=$UAS_PID
sipp_run "$ALICE_PORT" "$HERE/provider_uac.xml" -s bob || fail "call alice -> bob"
wait "$BOB_PID" || fail "bob's side of the call"

echo "2. carol is busy: voicemail gets bcarol"
register carol "$CAROL_PORT"
uas "$CAROL_PORT" "$HERE/provider_uas_busy.xml" carol
CAROL_PID=$UAS_PID
voicemail_expecting bcarol carol user-busy
sipp_run "$ALICE_PORT" "$HERE/provider_uac.xml" -s carol || fail "call to busy carol did not reach voicemail"
wait "$CAROL_PID" || fail "carol's busy side"
wait "$VM_PID" || fail "voicemail did not get mailbox bcarol with Diversion user-busy"

echo "3. dan does not answer: after 3 s voicemail gets udan"
register dan "$DAN_PORT"
uas "$DAN_PORT" "$HERE/provider_uas_noanswer.xml" dan
DAN_PID=$UAS_PID
voicemail_expecting udan dan no-answer
sipp_run "$ALICE_PORT" "$HERE/provider_uac.xml" -s dan || fail "unanswered call to dan did not reach voicemail"
wait "$DAN_PID" || fail "dan was not cancelled"
wait "$VM_PID" || fail "voicemail did not get mailbox udan with Diversion no-answer"

echo "4. alice cancels while dan rings: 487, no voicemail"
uas "$DAN_PORT" "$HERE/provider_uas_noanswer.xml" dan2
DAN_PID=$UAS_PID
uas "$VM_PORT" "$HERE/provider_uas_answer.xml" vm-cancel
VM_PID=$UAS_PID
sipp_run "$ALICE_PORT" "$HERE/provider_uac_cancel.xml" -s dan || fail "cancelled call"
wait "$DAN_PID" || fail "dan was not cancelled by the caller's CANCEL"
sleep 4 # past dan's 3 s no-answer timeout: nothing may be forwarded now
if grep -q "INVITE sip:" "$TMP/uas-$VM_PORT-vm-cancel.msg" 2>/dev/null; then
  fail "a cancelled call reached voicemail"
fi
kill "$VM_PID" 2>/dev/null || true

kill -0 "${PIDS[0]}" 2>/dev/null || fail "ringlet died"
echo "provider_forward: all passed"
