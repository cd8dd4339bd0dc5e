#!/usr/bin/env bash
# bench/run.sh — loadgate's local runner against peer load generators, on loopback.
#
# Installs the peers (wrk, hey, nginx from Debian; vegeta and bombardier from the
# Go module proxy into a private GOBIN), starts two targets (nginx with a tiny
# fixed response and keep-alive; bench/cmd/target serving internal/target), and
# measures, REPS repetitions each, medians with min–max:
#   1. efficiency: requests per generator CPU-second (user+sys of the generator
#      process, from /usr/bin/time) and peak RSS; closed model, 50 connections;
#   2. accuracy: open model 1000 rps for 10 s against /delay?ms=10, achieved rate
#      and p50/p99 next to what the server measured itself;
#   3. coordinated omission: /stall (500 ms stall every 2 s) at 200 rps;
#   4. memory: 2000 rps for 10 s and 60 s, peak RSS and results file size.
# Writes bench/RESULTS.md. Generator and targets share the machine's CPUs (and
# on a shared host, with other jobs): every figure carries that noise.
#
# Usage: bench/run.sh            (about 8 minutes)
#        REPS=1 DUR=3 bench/run.sh   (a quick smoke run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-3}
DUR=${DUR:-10}          # seconds per efficiency/accuracy/CO run
NGINX_DUR=${NGINX_DUR:-5}
LONG=${LONG:-60}        # seconds of the long memory run
CONNS=50
OUT=${OUT:-$ROOT/bench/RESULTS.md}
WORK=$(mktemp -d)
BIN=$WORK/bin
PIDS=()
KEEP=${KEEP:-}           # a directory to keep every run's raw output in
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp "$WORK"/*.out "$WORK"/*.time "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }

# --- peers -----------------------------------------------------------------
install_peers() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v hey >/dev/null || missing+=(hey)
  command -v nginx >/dev/null || missing+=(nginx)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    for i in 1 2 3 4 5; do   # another process may hold the apt lock
      if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then break; fi
      sleep 10
    done
  fi
  mkdir -p "$BIN"
  log "go install vegeta, bombardier"
  (cd "$WORK" && GOBIN=$BIN go install github.com/tsenart/vegeta/v12@v12.13.0 &&
    GOBIN=$BIN go install github.com/codesenberg/bombardier@v1.2.6)
  (cd "$ROOT" && go build -o "$BIN/lgload" ./bench/cmd/lgload && go build -o "$BIN/target" ./bench/cmd/target)
}

# --- targets ---------------------------------------------------------------
start_targets() {
  "$BIN/target" -addr-file "$WORK/addr" >/dev/null 2>"$WORK/target.log" &
  PIDS+=($!)
  for _ in $(seq 50); do [ -s "$WORK/addr" ] && break; sleep 0.1; done
  GO_ADDR=$(cat "$WORK/addr")
  local port; port=$("$BIN/target" -free-port)
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "ok\n"; }
  }
}
EOF
  nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/start.log" &
  PIDS+=($!)
  NGINX_ADDR=127.0.0.1:$port
  for _ in $(seq 50); do curl -fsS "http://$NGINX_ADDR/" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://$GO_ADDR/fast" >/dev/null
  log "targets: go $GO_ADDR, nginx $NGINX_ADDR"
}

# --- helpers ---------------------------------------------------------------
# timed FILE CMD...: runs CMD with /usr/bin/time, stdout+stderr to FILE.out, "user sys maxrss_kb" to FILE.time
timed() {
  local f=$1; shift
  /usr/bin/time -f "%U %S %M" -o "$f.time" "$@" >"$f.out" 2>&1 || true
}
cpu_of() { awk '{print $1+$2}' "$1.time"; }
rss_of() { awk '{printf "%.1f", $3/1024}' "$1.time"; }

# stat VALUES...: "median (min–max)"
stat() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
    if (NR==0) {print "n/a"; exit}
    m = (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2
    fmt = (m >= 100) ? "%.0f" : "%.2f"
    if (NR==1) printf fmt, m; else printf fmt " (" fmt "–" fmt ")", m, v[1], v[NR] }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2)? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
json_num() { grep -o "\"$2\":[-0-9.e]*" "$1" | head -1 | cut -d: -f2; }

# requests a tool reported, from its output file
requests_of() {
  local tool=$1 f=$2
  case $tool in
    loadgate) json_num "$f.out" requests ;;
    wrk) awk '/requests in/ {print $1}' "$f.out" ;;
    hey) awk '/^ *\[[0-9]+\]/ {n+=$2} END {print n+0}' "$f.out" ;;
    bombardier) grep -o '[0-9a-z]* - [0-9]*' "$f.out" | awk '{n+=$3} END {print n+0}' ;;
    vegeta) "$BIN/vegeta" report -type=json <"$f.bin" >"$f.json"; json_num "$f.json" requests ;;
  esac
}

# failed requests a tool reported (non-2xx and transport errors)
errors_of() {
  local tool=$1 f=$2
  case $tool in
    loadgate) json_num "$f.out" errors ;;
    wrk) awk '/Non-2xx|Socket errors/ {for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) n+=$i} END {print n+0}' "$f.out" ;;
    hey) awk '/Status code distribution/ {s=1; next} /Error distribution/ {s=0; e=1; next}
      s && /\[[0-9]+\]/ {gsub(/[][]/, "", $1); if ($1 !~ /^2/) n+=$2}
      e && /\[[0-9]+\]/ {gsub(/[][]/, "", $1); n+=$1} END {print n+0}' "$f.out" ;;
    bombardier) { grep -o '[13-5]xx - [0-9]*\|others - [0-9]*' "$f.out" || true; } | awk '{n+=$3} END {print n+0}' ;;
    vegeta) awk -F'"status_codes":' '{print $2}' "$f.json" | grep -o '"[0-9]*":[0-9]*' |
      awk -F: '$1 !~ /^"2/ {gsub(/"/, "", $2); n+=$2} END {print n+0}' ;;
  esac
}

run_closed() { # tool url seconds file
  local tool=$1 url=$2 s=$3 f=$4
  case $tool in
    loadgate) timed "$f" "$BIN/lgload" -url "$url" -vus $CONNS -duration "${s}s" ;;
    wrk) timed "$f" wrk -t 2 -c $CONNS -d "${s}s" "$url" ;;
    hey) timed "$f" hey -z "${s}s" -c $CONNS "$url" ;;
    bombardier) timed "$f" "$BIN/bombardier" -c $CONNS -d "${s}s" -p r "$url" ;;
    vegeta) echo "GET $url" >"$f.targets"
      timed "$f" sh -c "exec '$BIN/vegeta' attack -targets '$f.targets' -rate 0 -max-workers $CONNS -workers $CONNS -duration ${s}s -output '$f.bin'" ;;
  esac
}

TOOLS=(loadgate wrk bombardier hey vegeta)

efficiency() { # label addr path seconds
  local label=$1 addr=$2 path=$3 s=$4
  {
    echo
    echo "### Efficiency — $label, closed model, $CONNS connections, ${s} s, $REPS runs"
    echo
    echo "| tool | requests / generator CPU-second | requests/s | peak RSS MiB | errors |"
    echo "|---|---:|---:|---:|---:|"
  } >>"$WORK/table.md"
  local tool
  for tool in "${TOOLS[@]}"; do
    local eff=() rps=() rss=() errs=()
    for r in $(seq "$REPS"); do
      local f=$WORK/eff-$label-$tool-$r
      log "efficiency $label $tool run $r"
      run_closed "$tool" "http://$addr$path" "$s" "$f"
      local n c; n=$(requests_of "$tool" "$f"); c=$(cpu_of "$f")
      eff+=("$(awk -v n="$n" -v c="$c" 'BEGIN{print (c>0)? n/c : 0}')")
      rps+=("$(awk -v n="$n" -v s="$s" 'BEGIN{print n/s}')")
      rss+=("$(rss_of "$f")")
      errs+=("$(errors_of "$tool" "$f")")
    done
    printf '| %s | %s | %s | %s | %s |\n' "$tool" "$(stat "${eff[@]}")" "$(stat "${rps[@]}")" "$(stat "${rss[@]}")" "$(stat "${errs[@]}")" >>"$WORK/table.md"
    eval "EFF_${label//[^a-z]/}_$tool=$(median "${eff[@]}")"
  done
}

server_stats() { curl -fsS "http://$GO_ADDR/stats"; }
route_num() { # stats-json route field
  tr '{' '\n' <"$1" | grep -A1 "\"route\":\"$2\"" | tr ',' '\n' | grep "\"$3\"" | head -1 | cut -d: -f2 | tr -d '}]'
}

accuracy() {
  local rate=1000 s=$DUR
  {
    echo
    echo "### Accuracy — open model $rate rps, ${s} s, /delay?ms=10, $REPS runs"
    echo
    echo "Latency as the generator reports it vs what the server measured itself (handler entry to last byte)."
    echo
    echo "| tool | achieved rps (server-observed) | p50 ms | server p50 | p99 ms | server p99 | Δp50 ms | Δp99 ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  } >>"$WORK/table.md"
  local tool
  for tool in loadgate vegeta; do
    local ach=() p50=() s50=() p99=() s99=() d50=() d99=()
    for r in $(seq "$REPS"); do
      local f=$WORK/acc-$tool-$r url="http://$GO_ADDR/delay?ms=10"
      log "accuracy $tool run $r"
      curl -fsS "http://$GO_ADDR/stats/reset" >/dev/null
      if [ "$tool" = loadgate ]; then
        timed "$f" "$BIN/lgload" -url "$url" -rate $rate -duration "${s}s" -o "$f.results.json"
        p50+=("$(json_num "$f.out" p50_ms)"); p99+=("$(json_num "$f.out" p99_ms)")
      else
        echo "GET $url" >"$f.targets"
        timed "$f" sh -c "exec '$BIN/vegeta' attack -targets '$f.targets' -rate $rate -duration ${s}s -output '$f.bin'"
        "$BIN/vegeta" report -type=json <"$f.bin" >"$f.json"
        p50+=("$(awk -v v="$(tr ',' '\n' <"$f.json" | grep '"50th"' | cut -d: -f2)" 'BEGIN{print v/1e6}')")
        p99+=("$(awk -v v="$(tr ',' '\n' <"$f.json" | grep '"99th"' | cut -d: -f2)" 'BEGIN{print v/1e6}')")
      fi
      server_stats >"$f.stats"
      ach+=("$(route_num "$f.stats" /delay rate_rps)")
      s50+=("$(route_num "$f.stats" /delay p50)"); s99+=("$(route_num "$f.stats" /delay p99)")
      d50+=("$(awk -v a="${p50[-1]}" -v b="${s50[-1]}" 'BEGIN{print a-b}')")
      d99+=("$(awk -v a="${p99[-1]}" -v b="${s99[-1]}" 'BEGIN{print a-b}')")
    done
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$tool" "$(stat "${ach[@]}")" "$(stat "${p50[@]}")" "$(stat "${s50[@]}")" \
      "$(stat "${p99[@]}")" "$(stat "${s99[@]}")" "$(stat "${d50[@]}")" "$(stat "${d99[@]}")" >>"$WORK/table.md"
  done
}

coordinated_omission() {
  local rate=200 s=$DUR
  {
    echo
    echo "### Coordinated omission — /stall (500 ms stall every 2 s), open model $rate rps, ${s} s, $REPS runs"
    echo
    echo "Expected (CO-free): p90 ≈ 300 ms, p99 ≈ 480 ms. loadgate's service time is measured from the actual send."
    echo
    echo "| tool | p90 ms | p99 ms | service-time p90 ms | service-time p99 ms |"
    echo "|---|---:|---:|---:|---:|"
  } >>"$WORK/table.md"
  local tool
  for tool in loadgate vegeta; do
    local p90=() p99=() s90=() s99=()
    for r in $(seq "$REPS"); do
      local f=$WORK/co-$tool-$r url="http://$GO_ADDR/stall"
      log "coordinated omission $tool run $r"
      if [ "$tool" = loadgate ]; then
        timed "$f" "$BIN/lgload" -url "$url" -rate $rate -duration "${s}s"
        p90+=("$(json_num "$f.out" p90_ms)"); p99+=("$(json_num "$f.out" p99_ms)")
        s90+=("$(json_num "$f.out" svc_p90_ms)"); s99+=("$(json_num "$f.out" svc_p99_ms)")
      else
        echo "GET $url" >"$f.targets"
        timed "$f" sh -c "exec '$BIN/vegeta' attack -targets '$f.targets' -rate $rate -duration ${s}s -output '$f.bin'"
        "$BIN/vegeta" report -type=json <"$f.bin" >"$f.json"
        p90+=("$(awk -v v="$(tr ',' '\n' <"$f.json" | grep '"90th"' | cut -d: -f2)" 'BEGIN{print v/1e6}')")
        p99+=("$(awk -v v="$(tr ',' '\n' <"$f.json" | grep '"99th"' | cut -d: -f2)" 'BEGIN{print v/1e6}')")
      fi
    done
    local sv90="—" sv99="—"
    if [ ${#s90[@]} -gt 0 ]; then sv90=$(stat "${s90[@]}"); sv99=$(stat "${s99[@]}"); fi
    printf '| %s | %s | %s | %s | %s |\n' "$tool" "$(stat "${p90[@]}")" "$(stat "${p99[@]}")" "$sv90" "$sv99" >>"$WORK/table.md"
  done
}

memory() {
  local rate=2000
  {
    echo
    echo "### Memory — loadgate, open model $rate rps against /fast"
    echo
    echo "| duration | runs | peak RSS MiB | results file KiB | requests |"
    echo "|---:|---:|---:|---:|---:|"
  } >>"$WORK/table.md"
  local s reps
  for s in $DUR $LONG; do
    reps=$REPS; [ "$s" = "$LONG" ] && reps=1   # one long run keeps the script under 10 minutes
    local rss=() size=() req=()
    for r in $(seq "$reps"); do
      local f=$WORK/mem-$s-$r
      log "memory ${s}s run $r"
      timed "$f" "$BIN/lgload" -url "http://$GO_ADDR/fast" -rate $rate -duration "${s}s" -o "$f.results.json"
      rss+=("$(rss_of "$f")")
      size+=("$(awk -v b="$(wc -c <"$f.results.json")" 'BEGIN{printf "%.1f", b/1024}')")
      req+=("$(json_num "$f.out" requests)")
    done
    printf '| %s s | %s | %s | %s | %s |\n' "$s" "$reps" "$(stat "${rss[@]}")" "$(stat "${size[@]}")" "$(stat "${req[@]}")" >>"$WORK/table.md"
  done
}

# --- main ------------------------------------------------------------------
install_peers
start_targets
: >"$WORK/table.md"
started=$(date -u +%s)
efficiency go "$GO_ADDR" /fast "$DUR"
efficiency nginx "$NGINX_ADDR" / "$NGINX_DUR"
accuracy
coordinated_omission
memory
elapsed=$(( $(date -u +%s) - started ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}'; }
{
  echo "# loadgate benchmarks"
  echo
  echo "Measured by \`bench/run.sh\` on $(date -u +%Y-%m-%d) — $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(go version | cut -d' ' -f3), $REPS runs per figure, median (min–max), total ${elapsed} s."
  echo
  echo "**Caveat:** generator and target share the same CPUs, and this host was shared with other jobs"
  echo "while measuring; absolute rates are noisy. The fair comparison is requests per generator"
  echo "CPU-second (user+sys of the generator process), which does not depend on how busy the target is."
  echo
  echo "Efficiency ratios (Go target, medians): loadgate/vegeta = $(ratio "$EFF_go_loadgate" "$EFF_go_vegeta") (target ≥ 2),"
  echo "loadgate/hey = $(ratio "$EFF_go_loadgate" "$EFF_go_hey") (target ≥ 1.3), loadgate/bombardier = $(ratio "$EFF_go_loadgate" "$EFF_go_bombardier"),"
  echo "loadgate/wrk = $(ratio "$EFF_go_loadgate" "$EFF_go_wrk")."
  cat "$WORK/table.md"
  echo
  echo "Peers: wrk, hey, nginx (Debian), vegeta v12.13.0, bombardier v1.2.6. loadgate is driven by"
  echo "\`bench/cmd/lgload\` (runners/local with a one-endpoint plan). Microbenchmarks of the hot path:"
  echo "\`go test -run - -bench . ./runners/local/\`."
} >"$OUT"
cat "$OUT"
