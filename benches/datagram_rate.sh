#!/bin/sh
# Datagrams per second through the stateless relay, io_uring and poll side by side.
# Loopback only; every row is bounded (--seconds, default 3, plus a 0.5 s warm-up).
#   benches/datagram_rate.sh [--seconds N] [--workers N] [--sockets N] [--window N] [--mode options|relay]
# Results and the machine they came from: benches/results/datagram_rate.md
set -eu
cd "$(dirname "$0")/.."
echo "# $(date -u +%FT%TZ) $(uname -sr), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
exec cargo bench --bench datagram_rate -- "$@"
