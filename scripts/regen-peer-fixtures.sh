#!/usr/bin/env bash
# Regenerates the peer-tool fixtures under testdata/peers/*/regen/ by running the
# real tools against a loopback server. Load goes to 127.0.0.1 only, bounded in
# time (a few seconds per tool) and rate.
#
# Needs:  apt-get install -y python3-locust jmeter jmeter-http default-jdk-headless
#         go install github.com/tsenart/vegeta/v12@v12.13.0
#         /work/shared/tools/jmeter-2.13/jmeter (Debian's JMeter 2.13 does not start
#         without its XStream shim; override with JMETER=...)
# Use:    scripts/regen-peer-fixtures.sh            # all tools
#         scripts/regen-peer-fixtures.sh vegeta     # one of: vegeta locust jmeter
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
peers="$root/testdata/peers"
JMETER=${JMETER:-$(cd "$root/../.." 2>/dev/null && pwd)/shared/tools/jmeter-2.13/jmeter}
[ -x "$JMETER" ] || JMETER=/work/shared/tools/jmeter-2.13/jmeter
VEGETA=${VEGETA:-$(command -v vegeta || echo "$(go env GOPATH)/bin/vegeta")}
tools=${*:-vegeta locust jmeter}

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Loopback target: /fast (immediate), /slow (20 ms), /err (500), /users/<id>.
cat > "$work/server.py" <<'PY'
import http.server, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        p = self.path.split("?")[0]
        code, body = 200, b"ok\n"
        if p == "/slow":
            time.sleep(0.02); body = b"slow\n"
        elif p == "/err":
            code, body = 500, b"boom\n"
        elif p.startswith("/users/"):
            body = b'{"id":"' + p[7:].encode() + b'"}\n'
        elif p != "/fast":
            code, body = 404, b"no\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
/usr/bin/python3 "$work/server.py" "$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
base="http://127.0.0.1:$port"
echo "server on $base (pid $server_pid)"

for tool in $tools; do
case $tool in
vegeta)
  out="$peers/vegeta-12.13.0/regen"; mkdir -p "$out"
  printf 'GET %s/fast\nGET %s/slow\nGET %s/err\nGET %s/users/1\nGET %s/users/22\nGET %s/users/333\n' \
    "$base" "$base" "$base" "$base" "$base" "$base" > "$work/targets.txt"
  "$VEGETA" attack -name=regen -rate=60 -duration=3s -targets="$work/targets.txt" > "$out/results.bin"
  "$VEGETA" encode -to json < "$out/results.bin" > "$out/results.jsonl"
  "$VEGETA" encode -to csv < "$out/results.bin" > "$out/results.csv"
  "$VEGETA" report -type=json "$out/results.bin" > "$out/report.json"
  "$VEGETA" report -type=text "$out/results.bin" > "$out/report.txt"
  # The printed base URL's port changes per run; keep files byte-stable in git
  # only where the tool wrote them (they are real outputs, not edited).
  echo "vegeta: $(wc -c < "$out/results.bin") bytes gob"
  ;;
locust)
  out="$peers/locust-2.12.1/regen"; mkdir -p "$out"
  cat > "$out/locustfile.py" <<'PY'
import locust.stats
from locust import HttpUser, task, constant
# Write the CSV history every second instead of every 10 s.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

class U(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def fast(self):
        self.client.get("/fast", name="GET fast")

    @task(1)
    def slow(self):
        self.client.get("/slow", name="GET slow")

    @task(1)
    def err(self):
        self.client.get("/err", name="GET err")

    @task(1)
    def user(self):
        self.client.get("/users/7")
PY
  (cd "$work" && /usr/bin/python3 -m locust -f "$out/locustfile.py" --headless -u 5 -r 5 -t 6s \
      --host "$base" --csv run --csv-full-history --only-summary > locust.log 2>&1) || true
  cp "$work"/run_stats.csv "$work"/run_stats_history.csv "$work"/run_failures.csv "$out/"
  echo "locust: $(wc -l < "$out/run_stats_history.csv") history rows"
  ;;
jmeter)
  out="$peers/jmeter-2.13/regen"; mkdir -p "$out"
  cp "$peers/jmeter-2.13/plan.jmx" "$out/plan.jmx"
  # 2.13 defaults: CSV without a header line, summariser on.
  (cd "$work" && "$JMETER" -n -t "$out/plan.jmx" -Jport="$port" -l "$out/results-noheader.jtl" -j jmeter-csv.log > jmeter-csv.out 2>&1)
  grep -h 'summary =' "$work/jmeter-csv.out" "$work/jmeter-csv.log" | tail -1 > "$out/results-noheader.summary.txt" || true
  # CSV with a header and the extra fields 5.x writes by default where 2.13 has them.
  (cd "$work" && "$JMETER" -n -t "$out/plan.jmx" -Jport="$port" -l "$out/results-header.jtl" -j jmeter-hdr.log \
      -Jjmeter.save.saveservice.print_field_names=true -Jjmeter.save.saveservice.url=true \
      -Jjmeter.save.saveservice.connect_time=true -Jjmeter.save.saveservice.idle_time=true \
      -Jjmeter.save.saveservice.assertion_results_failure_message=true > jmeter-hdr.out 2>&1)
  grep -h 'summary =' "$work/jmeter-hdr.out" "$work/jmeter-hdr.log" | tail -1 > "$out/results-header.summary.txt" || true
  (cd "$work" && "$JMETER" -n -t "$out/plan.jmx" -Jport="$port" -l "$out/results.xml" -j jmeter-xml.log \
      -Jjmeter.save.saveservice.output_format=xml > jmeter-xml.out 2>&1)
  grep -h 'summary =' "$work/jmeter-xml.out" "$work/jmeter-xml.log" | tail -1 > "$out/results-xml.summary.txt" || true
  echo "jmeter: $(wc -l < "$out/results-noheader.jtl") rows"
  ;;
*) echo "unknown tool $tool (want vegeta, locust or jmeter)" >&2; exit 2 ;;
esac
done
