#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Guest networking that just works, proved both ways in a network namespace of this test's own
# (loopback only; its /etc/resolv.conf names a stand-in DNS server on its 127.0.0.1, and a
# stand-in web server listens there too), where bangerd and so QEMU run:
# - a guest with NAT resolves names through QEMU's built-in DNS (10.0.2.3, which asks the
#   namespace's resolver) and reaches the web server by name (10.0.2.2 is the host's loopback);
# - a guest without NAT resolves nothing (no query reaches the resolver) and reaches nothing;
# - both are named after their VM, and that name resolves locally (/etc/hosts, 127.0.1.1).
#
# Needs: root (to make the namespaces), unshare, python3, qemu-system-x86_64 and the image from
# `banger image build`. Exits 77 (skipped) with the reason when something is missing.
source "$(dirname "$0")/../integration/lib.sh"

need_vm
[[ $(id -u) == 0 ]] || skip "making a network namespace needs root"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
unshare -n -m true 2>/dev/null || skip "unshare -n -m fails here (no namespaces?)"

HERE=$(cd "$(dirname "$0")" && pwd)
PROBE=probe.banger.test
PORT=8080
NS_PIDS=$T/ns.pids
teardown() {
  local rc=$?
  set +e
  [[ -f "$NS_PIDS" ]] && while read -r p; do kill "$p" 2>/dev/null; done <"$NS_PIDS"
  (exit "$rc")
  cleanup
}
trap teardown EXIT

# bangerd, run by start_daemon as $BANGERD, starts in the namespace: lo up, resolv.conf bound
# over, the stand-ins started, then bangerd in their place (same pid, so DAEMON_PID holds).
mkdir -p "$T/www"
echo "hello over the network $$" >"$T/www/hello.txt"
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
cat >"$T/bangerd-in-ns" <<SH
#!/usr/bin/env bash
set -e
mount --bind "$T/resolv.conf" /etc/resolv.conf
ip link set lo up
python3 "$HERE/dnsstub.py" 127.0.0.1 53 $PROBE 10.0.2.2 "$T/dns.log" &
echo \$! >>"$NS_PIDS"
python3 -m http.server $PORT --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
echo \$! >>"$NS_PIDS"
exec "$BANGERD" "\$@"
SH
chmod +x "$T/bangerd-in-ns"
start_daemon_ns() {
  unshare -n -m "$T/bangerd-in-ns" >>"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  wait_until 10 daemon_ready || { cat "$DAEMON_LOG" >&2; exit 1; }
}
# the image is built outside: the namespace has no way to the package mirror
start_daemon
build_default_image
stop_daemon
start_daemon_ns
queries() { grep -c "^$PROBE 1$" "$T/dns.log" 2>/dev/null || true; }

# --- with NAT ---
run_cli 0 vm run --rm --nat --name nat1 -- sh -c '
  cat /etc/resolv.conf; echo "name $(hostname) $(cat /etc/hostname)"
  ping -c 1 -W 5 nat1 | head -n 1
  # a loaded host can lose one of nslookup'"'"'s parallel A and AAAA answers: ask up to 5 times
  for i in 1 2 3 4 5; do
    out=$(nslookup '"$PROBE"' 2>&1)
    case "$out" in *"Address: 10.0.2.2"*) break ;; esac
  done
  echo "$out"
  wget -q -O- http://'"$PROBE:$PORT"'/hello.txt'
expect_contains "$OUT" "nameserver 10.0.2.3" "resolv.conf names QEMU's resolver"
if [[ "$OUT" == *127.0.0.53* ]]; then fail "resolv.conf names a host stub: $OUT"; else pass; fi
expect_contains "$OUT" "name nat1 nat1" "hostname and /etc/hostname"
expect_contains "$OUT" "PING nat1 (127.0.1.1)" "the own name resolves locally"
expect_contains "$OUT" "Address: 10.0.2.2" "nslookup answered through 10.0.2.3"
expect_contains "$OUT" "hello over the network $$" "wget by name through NAT"
after_nat=$(queries)
((after_nat >= 1)) && pass || fail "the namespace's resolver saw no query from the NAT guest"

# --- without NAT: nothing goes out, by name or by address ---
run_cli 0 vm run --rm --name closed1 -- sh -c '
  echo "name $(hostname)"; ping -c 1 -W 5 closed1 | head -n 1
  if timeout 15 nslookup '"$PROBE"' >/dev/null 2>&1; then echo resolved; else echo no-dns; fi
  if wget -q -O- http://10.0.2.2:'"$PORT"'/hello.txt 2>/dev/null; then echo reached; else echo no-route; fi'
expect_contains "$OUT" "name closed1" "hostname without NAT"
expect_contains "$OUT" "PING closed1 (127.0.1.1)" "the own name resolves locally without NAT"
expect_contains "$OUT" "no-dns" "no name resolution without NAT"
expect_contains "$OUT" "no-route" "no connection out without NAT"
if [[ "$OUT" == *"hello over the network"* ]]; then fail "a guest without NAT reached the server"; else pass; fi
expect_eq "$(queries)" "$after_nat" "no DNS query reached the resolver from the guest without NAT"

expect_no_vm_left
finish
