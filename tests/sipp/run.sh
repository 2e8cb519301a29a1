#!/usr/bin/env bash
# sipp interop for the stateful proxy core: a sipp caller and callee on loopback through
# StatefulProxy (default router) on the real runtime, three scenario pairs of 10 calls each:
#   uac_call/uas_call     INVITE, 180, 200, ACK and BYE along the Record-Route set
#   uac_busy/uas_busy     486 forwarded, ACKed hop by hop by the proxy and by the caller
#   uac_cancel/uas_cancel caller cancels after 180: 200 to the CANCEL, CANCEL downstream, 487
# Every call must succeed (sipp exits 0 on both sides). Bounded: 30 s per sipp, 40 s per pair.
# Usage: tests/sipp/run.sh   (from anywhere; needs sipp on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v sipp >/dev/null || { echo "sipp not installed (Debian: sip-tester)" >&2; exit 1; }
exec cargo test --test proxy_sipp -- --ignored --nocapture
