#!/usr/bin/env bash
# Digest authentication against a real SIP stack (sipp), through `ringlet run` on loopback
# with the embedded demo table (users and passwords in src/table/demo.rs):
#   1. a REGISTER without credentials is challenged (401) and a wrong password is refused;
#   2. bob registers with sipp's [authentication] (401, then 200);
#   3. alice calls bob: 407, ACK, INVITE with Proxy-Authorization, answered, ACK, BYE; bob
#      receives the INVITE without alice's credentials (consumed by the proxy);
#   4. a call claiming alice's identity with bob's password is refused with 403.
# Usage: auth_register_call.sh path/to/ringlet. Loopback only; every step bounded; exits
# non-zero on the first failure.
set -euo pipefail

RINGLET=$(realpath "${1:?usage: $0 path/to/ringlet}")
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/ringlet-auth.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$TMP/ringlet.log" ] && tail -30 "$TMP/ringlet.log" >&2; exit 1; }

# Free UDP ports on 127.0.0.1: proxy, alice, bob, mallory.
read -r PROXY_PORT ALICE_PORT BOB_PORT MALLORY_PORT < <(python3 - <<'PY'
import socket
socks = []
for _ in range(4):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)

# No [files] table: the default path does not exist in $TMP, so the demo table serves.
# sipp 3.6 computes MD5 only and answers the first challenge it reads, and Ringlet lists
# SHA-256 first (RFC 8760 §2.4): offer MD5 alone, as an operator with such phones would.
# (sipp's digest uri defaults to the proxy's address, hence -auth_uri = the Request-URI.)
cat >"$TMP/ringlet.toml" <<TOML
listen = ["127.0.0.1:$PROXY_PORT"]
[runtime]
workers = 2
cores = "none"
drain_ms = 100
[auth]
algorithms = ["MD5"]
TOML

(cd "$TMP" && exec "$RINGLET" run --config "$TMP/ringlet.toml" >"$TMP/ringlet.log" 2>&1) &
PIDS+=($!)
for _ in $(seq 50); do
  grep -q "table" "$TMP/ringlet.log" 2>/dev/null && break
  sleep 0.1
done
sleep 0.3
kill -0 "${PIDS[0]}" 2>/dev/null || fail "ringlet did not start"
grep -q "demo" "$TMP/ringlet.log" || fail "ringlet is not serving the demo table"

SIPP_COMMON=(-i 127.0.0.1 -m 1 -timeout 15s -timeout_error -nostdin -trace_err)

# sipp_run PORT SCENARIO [args...]: one bounded sipp run towards the proxy.
sipp_run() {
  local port=$1 sf=$2; shift 2
  timeout 25 sipp 127.0.0.1:"$PROXY_PORT" -p "$port" -sf "$sf" "${SIPP_COMMON[@]}" \
    -error_file "$TMP/sipp-$port-$(basename "$sf" .xml).err" \
    -trace_msg -message_file "$TMP/sipp-$port-$(basename "$sf" .xml).msg" "$@" >/dev/null 2>&1
}

echo "1. a wrong password is not accepted"
if sipp_run "$MALLORY_PORT" "$HERE/auth_register.xml" -s bob -au bob -ap not-builder -auth_uri localhost; then
  fail "REGISTER with a wrong password was accepted"
fi
MSG="$TMP/sipp-$MALLORY_PORT-auth_register.msg"
grep -q "Authorization: Digest" "$MSG" || fail "sipp sent no credentials (wrong password)"
[ "$(grep -c "SIP/2.0 401" "$MSG")" -ge 2 ] || fail "a wrong password was not challenged again"
grep -q "SIP/2.0 200" "$MSG" && fail "a wrong password got 200"
grep -q 'WWW-Authenticate: Digest realm="localhost"' "$TMP/sipp-$MALLORY_PORT-auth_register.msg" \
  || fail "challenge without realm localhost"

echo "2. bob registers with digest"
sipp_run "$BOB_PORT" "$HERE/auth_register.xml" -s bob -au bob -ap builder -auth_uri localhost || fail "REGISTER bob"
grep -q "^\s*Authorization: Digest" "$TMP/sipp-$BOB_PORT-auth_register.msg" || fail "sipp sent no credentials"

echo "3. alice calls bob with digest; bob never sees her credentials"
timeout 30 sipp -p "$BOB_PORT" -sf "$HERE/auth_uas.xml" "${SIPP_COMMON[@]}" \
  -error_file "$TMP/uas-bob.err" -trace_msg -message_file "$TMP/uas-bob.msg" >/dev/null 2>&1 &
BOB_PID=$!
PIDS+=("$BOB_PID")
sleep 0.3
sipp_run "$ALICE_PORT" "$HERE/auth_uac.xml" -s bob -au alice -ap wonderland -auth_uri bob@localhost || fail "call alice -> bob"
wait "$BOB_PID" || fail "bob's side of the call (or credentials leaked to bob)"
grep -q "Proxy-Authorization: Digest" "$TMP/sipp-$ALICE_PORT-auth_uac.msg" || fail "alice sent no credentials"
grep -q "INVITE sip:bob@" "$TMP/uas-bob.msg" || fail "bob's message log has no INVITE"
if grep -qi "Proxy-Authorization" "$TMP/uas-bob.msg"; then
  fail "the forwarded INVITE carried alice's credentials"
fi

echo "4. bob's password does not let him call as alice"
if sipp_run "$MALLORY_PORT" "$HERE/auth_uac.xml" -s bob -au bob -ap builder -auth_uri bob@localhost; then
  fail "a spoofed From was accepted"
fi
grep -q "SIP/2.0 403 Authenticated user does not match From" "$TMP/sipp-$MALLORY_PORT-auth_uac.msg" \
  || fail "spoofed From not answered 403"

kill -0 "${PIDS[0]}" 2>/dev/null || fail "ringlet died"
echo "auth_register_call: all passed"
