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
#         scripts/regen-peer-fixtures.sh vegeta     # one of: vegeta locust jmeter synth
#
# k6 and Gatling cannot be installed here. "synth" writes their files in the
# formats their documentation specifies (k6 `--out json` NDJSON and
# `--summary-export`; Gatling 3.4-3.11 text simulation.log), filled with the real
# latencies of the vegeta run (so run vegeta first).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
peers="$root/testdata/peers"
JMETER=${JMETER:-$(cd "$root/../.." 2>/dev/null && pwd)/shared/tools/jmeter-2.13/jmeter}
[ -x "$JMETER" ] || JMETER=/work/shared/tools/jmeter-2.13/jmeter
VEGETA=${VEGETA:-$(command -v vegeta || echo "$(go env GOPATH)/bin/vegeta")}
tools=${*:-vegeta locust jmeter synth}

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
/usr/bin/python3 "$work/server.py" "$work/port" 2>"$work/server.log" &
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
  # JMeter appends to an existing -l file: start from nothing.
  rm -f "$out"/results-noheader.jtl "$out"/results-header.jtl "$out"/results.xml "$out"/*.summary.txt
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
synth)
  cat > "$work/synth.py" <<'PY'
# Writes k6 and Gatling fixtures in their documented formats from real vegeta results.
import json, sys, os, math, datetime
src, peers = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(src) if l.strip()]
rows.sort(key=lambda r: r["timestamp"])
def ts(s):  # RFC3339 with ns -> (datetime, ns)
    base, frac = s.rstrip("Z").split(".")
    frac = (frac + "000000000")[:9]
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 10**9 + int(frac)
def rfc(ns):
    s, f = divmod(ns, 10**9)
    return datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%09d+00:00" % f
def path(u):
    return "/" + u.split("/", 3)[3] if u.count("/") >= 3 else "/"

# --- k6 `k6 run --out json=out.json` (docs: results-output/real-time/json) ---
out = os.path.join(peers, "k6-synthetic"); os.makedirs(out, exist_ok=True)
lines, declared = [], set()
def metric(name, typ, contains="default"):
    if name in declared: return
    declared.add(name)
    lines.append(json.dumps({"type": "Metric", "data": {"name": name, "type": typ, "contains": contains,
        "thresholds": ["p(95)<500"] if name == "http_req_duration" else [], "submetrics": None}, "metric": name}, separators=(",", ":")))
def point(name, t, v, tags):
    lines.append(json.dumps({"metric": name, "type": "Point", "data": {"time": rfc(t), "value": v, "tags": tags}}, separators=(",", ":")))
metric("vus", "gauge"); point("vus", ts(rows[0]["timestamp"]), 5, None)
durs = {}
for r in rows:
    start = ts(r["timestamp"]); lat = r["latency"]; end = start + lat
    url, code = r["url"], r["code"]
    p = path(url)
    name = {"/fast": "fast", "/slow": "slow", "/err": "err"}.get(p, url)  # users/* keep k6's default name (the URL)
    tags = {"expected_response": "true" if 200 <= code < 400 else "false", "group": "", "method": r["method"],
            "name": name, "proto": "HTTP/1.1", "scenario": "default", "status": str(code), "url": url}
    if code >= 400: tags["error_code"] = str(1000 + code)
    ms = lat / 1e6
    for m, typ, c, v in [("http_reqs", "counter", "default", 1), ("http_req_duration", "trend", "time", ms),
                         ("http_req_blocked", "trend", "time", 0.004), ("http_req_connecting", "trend", "time", 0),
                         ("http_req_tls_handshaking", "trend", "time", 0), ("http_req_sending", "trend", "time", 0.02),
                         ("http_req_waiting", "trend", "time", max(ms - 0.05, 0)), ("http_req_receiving", "trend", "time", 0.03),
                         ("http_req_failed", "rate", "default", 0 if 200 <= code < 400 else 1)]:
        metric(m, typ, c); point(m, end, v, tags)
    durs.setdefault(name if name != url else "users", []).append((ms, code))
    it = {"group": "", "scenario": "default"}
    metric("data_sent", "counter", "data"); point("data_sent", end, 80, it)
    metric("data_received", "counter", "data"); point("data_received", end, 150 + r["bytes_in"], it)
    metric("iteration_duration", "trend", "time"); point("iteration_duration", end, ms + 0.2, it)
    metric("iterations", "counter"); point("iterations", end, 1, it)
open(os.path.join(out, "out.json"), "w").write("\n".join(lines) + "\n")

# --- k6 `--summary-export=summary.json` (trend: avg min med max p(90) p(95); rate: passes fails value) ---
def pct(vals, p):  # k6 trend percentile: linear interpolation between closest ranks
    v = sorted(vals)
    if len(v) == 1: return v[0]
    k = (len(v) - 1) * p / 100.0; lo = math.floor(k); hi = math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)
def trend(vals):
    return {"avg": sum(vals) / len(vals), "min": min(vals), "med": pct(vals, 50), "max": max(vals),
            "p(90)": pct(vals, 90), "p(95)": pct(vals, 95)}
allms = [ms for v in durs.values() for ms, _ in v]
span = (ts(rows[-1]["timestamp"]) + rows[-1]["latency"] - ts(rows[0]["timestamp"])) / 1e9
fails = sum(1 for v in durs.values() for _, c in v if not 200 <= c < 400)
metrics = {
    "http_req_duration": trend(allms),
    "http_req_duration{expected_response:true}": trend([ms for v in durs.values() for ms, c in v if 200 <= c < 400]),
    "http_reqs": {"count": len(allms), "rate": len(allms) / span},
    "http_req_failed": {"passes": fails, "fails": len(allms) - fails, "value": fails / len(allms)},
    "iterations": {"count": len(allms), "rate": len(allms) / span},
    "vus": {"value": 5, "min": 5, "max": 5},
}
summary = {"root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": {}, "checks": {}}, "metrics": metrics}
json.dump(summary, open(os.path.join(out, "summary-export.json"), "w"), indent=4)
# Per-name submetrics appear when the script has thresholds on them, e.g. 'http_req_duration{name:fast}'.
m2 = dict(metrics)
for n in ("fast", "slow", "err"):
    m2["http_req_duration{name:%s}" % n] = trend([ms for ms, _ in durs[n]])
    m2["http_reqs{name:%s}" % n] = {"count": len(durs[n]), "rate": len(durs[n]) / span}
json.dump({"root_group": summary["root_group"], "metrics": m2}, open(os.path.join(out, "summary-export-submetrics.json"), "w"), indent=4)
# handleSummary(data) → JSON.stringify(data): figures nested under "values", plus state.
hs = {"metrics": {k: {"type": "trend" if "avg" in v else ("rate" if "passes" in v else "counter"),
                      "contains": "time" if "avg" in v else "default",
                      "values": ({"rate": v["value"], "passes": v["passes"], "fails": v["fails"]} if "passes" in v else v)}
                  for k, v in metrics.items() if k != "vus"},
      "state": {"isStdOutTTY": False, "isStdErrTTY": False, "testRunDurationMs": span * 1000}}
json.dump(hs, open(os.path.join(out, "handle-summary.json"), "w"), indent=2)

# --- Gatling 3.4-3.11 text simulation.log (LogFileDataWriter) ---
out = os.path.join(peers, "gatling-synthetic"); os.makedirs(out, exist_ok=True)
g = []
t0 = ts(rows[0]["timestamp"]) // 10**6
g.append("RUN\tcomputerdatabase.BasicSimulation\tbasicsimulation\t%d\t \t3.9.5" % t0)
g.append("USER\tUsers\tSTART\t%d" % t0)
for r in rows:
    st = ts(r["timestamp"]) // 10**6; en = (ts(r["timestamp"]) + r["latency"]) // 10**6
    p = path(r["url"]); name = {"/fast": "fast", "/slow": "slow", "/err": "err"}.get(p, "user")
    groups = "api" if name == "user" else ""
    if 200 <= r["code"] < 400:
        g.append("REQUEST\t%s\t%s\t%d\t%d\tOK\t " % (groups, name, st, en))
    else:
        g.append("REQUEST\t%s\t%s\t%d\t%d\tKO\tstatus.find.in([200, 209], 304), found %d" % (groups, name, st, en, r["code"]))
g.append("USER\tUsers\tEND\t%d" % ((ts(rows[-1]["timestamp"]) + rows[-1]["latency"]) // 10**6))
open(os.path.join(out, "simulation.log"), "w").write("\n".join(g) + "\n")
print("synth: k6 %d lines, gatling %d lines" % (len(lines), len(g)))
PY
  /usr/bin/python3 "$work/synth.py" "$peers/vegeta-12.13.0/regen/results.jsonl" "$peers"
  ;;
*) echo "unknown tool $tool (want vegeta, locust or jmeter)" >&2; exit 2 ;;
esac
done
