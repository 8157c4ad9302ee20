#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine that has only Node 20 and npm,
# then builds and runs every test. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/setup-node.sh

# System tools the tests use as outside judges and real clients: tshark reads our pcaps,
# curl and iperf3 run through the tunnel, chromium loads the status dashboard, openssl makes
# throwaway certificates for wss, nginx balances UDP over several servers,
# HAProxy WebSocket paths by affinity token.
missing=()
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The benchmark's kernel-MPTCP reference builds network namespaces with ip and tc.
command -v tc >/dev/null 2>&1 || missing+=(iproute2)
# The scale-out test balances three servers with Debian's nginx and its stream (UDP) module.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
# test/scale-out-haproxy.test.ts puts three WebSocket servers behind Debian's HAProxy.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
# tools/test/scale-out-njs.test.ts routes by a server id in an njs (nginx JavaScript) handler.
[ -f /usr/lib/nginx/modules/ngx_stream_js_module.so ] || missing+=(libnginx-mod-stream-js)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "[setup] installing packages"
pnpm install --frozen-lockfile

echo "[test] typecheck and tests"
pnpm test

# The benchmark suite in its quick mode through the real apps (figures only, nothing asserted
# on speed; it fails when a section cannot run), then the torture suite's CI mode (fuzzing,
# soak, attacks: these do fail on a crash, a lost byte or memory that keeps growing). The three
# simulated sections (engine, schedulers, micro) are left to `pnpm bench`: they measure no app,
# cost CI about ten minutes, and tools/test/bench-sim-sections.test.ts runs each of them small.
echo "[test] pnpm bench --quick (the sections through the apps, the kernel's MPTCP, an interface going down beside it, and the two-link testbed beside it)"
pnpm bench --quick --only aggregation,rtt-ratio,handover,latency,cpu,scale,kernel,iface-down,testbed --out results/bench-quick
echo "[test] pnpm torture"
pnpm torture --out results/torture
