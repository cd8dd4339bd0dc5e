#!/usr/bin/env bash
# bench/run.sh — `loadgate run` (the CLI users run, built from ./cmd/loadgate)
# against peer load generators, on loopback, over HTTP and HTTPS.
#
# Installs the peers (wrk, hey, nginx from Debian; vegeta and bombardier from the
# Go module proxy into a private GOBIN), starts four targets (nginx with a tiny
# fixed response, plain and TLS; bench/cmd/target serving internal/target, plain
# and TLS with a CA it generates), and measures, REPS repetitions each, medians
# with min–max. Within a repetition the tools run one after another, so a change
# in the host's load hits them alike:
#   1. efficiency: requests per generator CPU-second (user+sys of the generator
#      process, from /usr/bin/time) and peak RSS; closed model, 50 connections;
#   2. accuracy: open model 1000 rps for 10 s against /delay?ms=10, achieved rate
#      and p50/p99 next to what the server measured itself;
#   3. coordinated omission: /stall (500 ms stall every 2 s) at 200 rps;
#   4. memory: 2000 rps for 10 s and 60 s, peak RSS (and RSS every 10 s of the
#      long run, to show it flat) and results file size.
# loadgate verifies the target's certificate (tls.ca_file); the peers do not
# (wrk and hey never do; bombardier -k, vegeta -insecure): only handshakes pay
# for it. Writes bench/RESULTS.md. Generator and targets share the machine's
# CPUs (and on a shared host, other jobs): every figure carries that noise, and
# the load average is recorded next to each table.
#
# Usage: bench/run.sh                       (about 25 minutes)
#        REPS=1 DUR=3 LONG=10 bench/run.sh  (a quick smoke run)
#        ONLY="efficiency memory" bench/run.sh   (some sections: efficiency accuracy co memory)
#        ONLY=efficiency EFF="go nginx" TOOLS="loadgate wrk" BEFORE_BIN=/tmp/lg-old bench/run.sh
#            (some efficiency tables: gohttps nginxhttps go nginx; some tools; BEFORE_BIN adds
#             "loadgate-before", an earlier build, beside the current one in every table)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-3}
DUR=${DUR:-10}          # seconds per efficiency (Go target)/accuracy/CO run
NGINX_DUR=${NGINX_DUR:-5}
LONG=${LONG:-60}        # seconds of the long memory run
CONNS=50
ONLY=${ONLY:-efficiency accuracy co memory}
EFF=${EFF:-gohttps nginxhttps go nginx}
BEFORE_BIN=${BEFORE_BIN:-}
OUT=${OUT:-$ROOT/bench/RESULTS.md}
WORK=$(mktemp -d)
BIN=$WORK/bin
PIDS=()
KEEP=${KEEP:-}           # a directory to keep every run's raw output in
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    cp "$WORK"/*.out "$WORK"/*.time "$WORK"/*.json "$KEEP"/ 2>/dev/null || true  # a section may not have run
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- peers -----------------------------------------------------------------
install_peers() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v hey >/dev/null || missing+=(hey)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v jq >/dev/null || missing+=(jq)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    for _ in 1 2 3 4 5; do   # another process may hold the apt lock
      if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then break; fi
      sleep 10
    done
  fi
  mkdir -p "$BIN"
  log "go install vegeta, bombardier"
  (cd "$WORK" && GOBIN=$BIN nice -n 19 go install github.com/tsenart/vegeta/v12@v12.13.0 &&
    GOBIN=$BIN nice -n 19 go install github.com/codesenberg/bombardier@v1.2.6)
  # loadgate as released (.goreleaser.yaml, Dockerfile): static, no symbol
  # tables. A cgo build also maps libc and the dynamic loader, about
  # 1.3 MiB more resident memory than the binary users run.
  log "go build loadgate"
  (cd "$ROOT" && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags '-s -w' -o "$BIN/loadgate" ./cmd/loadgate &&
    nice -n 19 go build -o "$BIN/target" ./bench/cmd/target)
}

# --- targets ---------------------------------------------------------------
start_targets() {
  mkdir -p "$WORK/pki" "$WORK/nginx"
  # Targets without Server-Timing, as in every earlier figure: the peers
  # ignore the header, and loadgate's server histograms would add to its RSS.
  "$BIN/target" -no-server-timing -addr-file "$WORK/addr" >/dev/null 2>"$WORK/target.log" &
  PIDS+=($!)
  "$BIN/target" -no-server-timing -addr-file "$WORK/tls-addr" -tls-dir "$WORK/pki" >/dev/null 2>"$WORK/target-tls.log" &
  PIDS+=($!)
  for _ in $(seq 50); do [ -s "$WORK/addr" ] && [ -s "$WORK/tls-addr" ] && break; sleep 0.1; done
  GO_ADDR=$(cat "$WORK/addr")
  GO_TLS_ADDR=$(cat "$WORK/tls-addr")
  local port tport; port=$("$BIN/target" -free-port); tport=$("$BIN/target" -free-port)
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
  server {
    listen 127.0.0.1:$tport ssl;
    ssl_certificate $WORK/pki/cert.pem;
    ssl_certificate_key $WORK/pki/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
    location / { return 200 "ok\n"; }
  }
}
EOF
  nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/start.log" &
  PIDS+=($!)
  NGINX_ADDR=127.0.0.1:$port
  NGINX_TLS_ADDR=127.0.0.1:$tport
  for _ in $(seq 50); do curl -fsS "http://$NGINX_ADDR/" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://$GO_ADDR/fast" >/dev/null
  curl -fsS --cacert "$WORK/pki/ca.pem" "https://$GO_TLS_ADDR/fast" >/dev/null
  curl -fsS --cacert "$WORK/pki/ca.pem" "https://$NGINX_TLS_ADDR/" >/dev/null
  log "targets: go $GO_ADDR, go TLS $GO_TLS_ADDR, nginx $NGINX_ADDR, nginx TLS $NGINX_TLS_ADDR"
}

# --- helpers ---------------------------------------------------------------
# timed FILE CMD...: runs CMD with /usr/bin/time, stdout+stderr to FILE.out, "user sys maxrss_kb" to FILE.time
timed() {
  local f=$1; shift
  /usr/bin/time -f "%U %S %M" -o "$f.time" "$@" >"$f.out" 2>&1 || true
}
cpu_of() { tail -1 "$1.time" | awk '{print $1+$2}'; }   # /usr/bin/time may add a first line (exit status)
rss_of() { tail -1 "$1.time" | awk '{printf "%.1f", $3/1024}'; }

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

# lg_plan FILE URL PROFILE [HTTP]: a one-endpoint plan for `loadgate run`.
# PROFILE is the body of the profile mapping ("vus: 50, duration: 10s"),
# HTTP the body of an http mapping ("version: 2").
lg_plan() {
  local f=$1 url=$2 profile=$3 http=${4:-}
  local rest=${url#*://*/}
  local base=${url%"/$rest"}
  {
    echo "name: bench"
    echo "target: $base"
    case $url in https://*) echo "tls: {ca_file: $WORK/pki/ca.pem}" ;; esac
    if [ -n "$http" ]; then echo "http: {$http}"; fi
    echo "defaults: {timeout: 5s}"
    echo "endpoints: [{name: e, request: \"GET /$rest\"}]"
    echo "profile: {type: load, $profile}"
  } >"$f"
}

# lg FILE URL PROFILE [HTTP]: `loadgate run` under /usr/bin/time; results in FILE.json
lg() {
  local f=$1 url=$2 profile=$3 http=${4:-}
  lg_plan "$f.plan.yaml" "$url" "$profile" "$http"
  timed "$f" "${LGBIN:-$BIN/loadgate}" run "$f.plan.yaml" -q -o "$f.json"
}
# lgq FILE JQ: a figure of a loadgate results file
lgq() { jq -r "($2) // 0" "$1.json" 2>/dev/null || echo 0; }

# requests a tool reported, from its output file
requests_of() {
  local tool=$1 f=$2
  case $tool in
    loadgate*) lgq "$f" .total.requests ;;
    wrk) awk '/requests in/ {print $1}' "$f.out" ;;
    hey) awk '/^ *\[[0-9]+\]/ {n+=$2} END {print n+0}' "$f.out" ;;
    bombardier) grep -o '[0-9a-z]* - [0-9]*' "$f.out" | awk '{n+=$3} END {print n+0}' ;;
    vegeta) "$BIN/vegeta" report -type=json <"$f.bin" >"$f.vegeta.json"; json_num "$f.vegeta.json" requests ;;
  esac
}

# failed requests a tool reported (non-2xx and transport errors)
errors_of() {
  local tool=$1 f=$2
  case $tool in
    loadgate*) lgq "$f" .total.errors ;;
    wrk) awk '/Non-2xx|Socket errors/ {for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) n+=$i} END {print n+0}' "$f.out" ;;
    hey) awk '/Status code distribution/ {s=1; next} /Error distribution/ {s=0; e=1; next}
      s && /\[[0-9]+\]/ {gsub(/[][]/, "", $1); if ($1 !~ /^2/) n+=$2}
      e && /\[[0-9]+\]/ {gsub(/[][]/, "", $1); n+=$1} END {print n+0}' "$f.out" ;;
    bombardier) { grep -o '[13-5]xx - [0-9]*\|others - [0-9]*' "$f.out" || true; } | awk '{n+=$3} END {print n+0}' ;;
    vegeta) awk -F'"status_codes":' '{print $2}' "$f.vegeta.json" | grep -o '"[0-9]*":[0-9]*' |
      awk -F: '$1 !~ /^"2/ {gsub(/"/, "", $2); n+=$2} END {print n+0}' ;;
  esac
}

run_closed() { # tool url seconds file
  local tool=$1 url=$2 s=$3 f=$4 k=""
  case $url in https://*) k=1 ;; esac
  case $tool in
    loadgate) lg "$f" "$url" "vus: $CONNS, duration: ${s}s" ;;
    loadgate-h2) lg "$f" "$url" "vus: $CONNS, duration: ${s}s" "version: 2" ;;
    loadgate-before) LGBIN=$BEFORE_BIN lg "$f" "$url" "vus: $CONNS, duration: ${s}s" ;;
    wrk) timed "$f" wrk -t 2 -c $CONNS -d "${s}s" "$url" ;;
    hey) timed "$f" hey -z "${s}s" -c $CONNS "$url" ;;
    bombardier) timed "$f" "$BIN/bombardier" ${k:+-k} -c $CONNS -d "${s}s" -p r "$url" ;;
    vegeta) echo "GET $url" >"$f.targets"
      timed "$f" sh -c "exec '$BIN/vegeta' attack ${k:+-insecure} -targets '$f.targets' -rate 0 -max-workers $CONNS -workers $CONNS -duration ${s}s -output '$f.bin'" ;;
  esac
}

TOOLS_ENV=${TOOLS:-}   # given: these tools in every table
read -r -a TOOLS <<<"${TOOLS_ENV:-loadgate wrk bombardier hey vegeta}"

efficiency() { # key label url seconds [tools...]
  local key=$1 label=$2 url=$3 s=$4; shift 4
  local tools=("$@"); { [ ${#tools[@]} -eq 0 ] || [ -n "$TOOLS_ENV" ]; } && tools=("${TOOLS[@]}")
  if [ -n "$BEFORE_BIN" ]; then tools=("${tools[0]}" loadgate-before "${tools[@]:1}"); fi
  {
    echo
    echo "### Efficiency — $label, closed model, $CONNS connections, ${s} s, $REPS runs"
    echo
    echo "Load average at the start: $(loadavg)."
    echo
    echo "| tool | requests / generator CPU-second | requests/s | peak RSS MiB | errors |"
    echo "|---|---:|---:|---:|---:|"
  } >>"$WORK/table.md"
  local tool r
  declare -A E=() R=() M=() X=()
  for r in $(seq "$REPS"); do
    for tool in "${tools[@]}"; do
      local f=$WORK/eff-$key-$tool-$r
      log "efficiency $label $tool run $r"
      run_closed "$tool" "$url" "$s" "$f"
      local n c; n=$(requests_of "$tool" "$f"); c=$(cpu_of "$f")
      E[$tool]+=" $(awk -v n="$n" -v c="$c" 'BEGIN{print (c>0)? n/c : 0}')"
      R[$tool]+=" $(awk -v n="$n" -v s="$s" 'BEGIN{print n/s}')"
      M[$tool]+=" $(rss_of "$f")"
      X[$tool]+=" $(errors_of "$tool" "$f")"
    done
  done
  for tool in "${tools[@]}"; do
    # shellcheck disable=SC2086
    printf '| %s | %s | %s | %s | %s |\n' "$tool" "$(stat ${E[$tool]})" "$(stat ${R[$tool]})" "$(stat ${M[$tool]})" "$(stat ${X[$tool]})" >>"$WORK/table.md"
    # shellcheck disable=SC2086
    eval "EFF_${key}_${tool//-/_}=$(median ${E[$tool]})"
  done
}

route_num() { # stats-json route field
  tr '{' '\n' <"$1" | grep -A1 "\"route\":\"$2\"" | tr ',' '\n' | grep "\"$3\"" | head -1 | cut -d: -f2 | tr -d '}]'
}
vegeta_q() { # vegeta-json quantile-name → ms
  awk -v v="$(tr ',' '\n' <"$1" | grep "\"$2\"" | cut -d: -f2)" 'BEGIN{print v/1e6}'
}

accuracy() { # scheme addr
  local scheme=$1 addr=$2 rate=1000 s=$DUR k=""
  [ "$scheme" = https ] && k=1
  {
    echo
    echo "### Accuracy — $scheme, open model $rate rps, ${s} s, /delay?ms=10, $REPS runs"
    echo
    echo "Latency as the generator reports it vs what the server measured itself (handler entry to last byte). Load average at the start: $(loadavg)."
    echo
    echo "| tool | achieved rps (server-observed) | p50 ms | server p50 | p99 ms | server p99 | Δp50 ms | Δp99 ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  } >>"$WORK/table.md"
  local tool r url="$scheme://$addr/delay?ms=10" tools=(loadgate vegeta)
  [ -n "$BEFORE_BIN" ] && tools=(loadgate loadgate-before vegeta)
  declare -A ACH=() P50=() S50=() P99=() S99=() D50=() D99=()
  for r in $(seq "$REPS"); do
    for tool in "${tools[@]}"; do
      local f=$WORK/acc-$scheme-$tool-$r p50 p99
      log "accuracy $scheme $tool run $r"
      curl -fsSk "$scheme://$addr/stats/reset" >/dev/null
      if [ "$tool" != vegeta ]; then
        local bin=$BIN/loadgate; [ "$tool" = loadgate-before ] && bin=$BEFORE_BIN
        LGBIN=$bin lg "$f" "$url" "rate: $rate/s, duration: ${s}s"
        p50=$(lgq "$f" '.endpoints[0].latency_ms.p50'); p99=$(lgq "$f" '.endpoints[0].latency_ms.p99')
      else
        echo "GET $url" >"$f.targets"
        timed "$f" sh -c "exec '$BIN/vegeta' attack ${k:+-insecure} -targets '$f.targets' -rate $rate -duration ${s}s -output '$f.bin'"
        "$BIN/vegeta" report -type=json <"$f.bin" >"$f.vegeta.json"
        p50=$(vegeta_q "$f.vegeta.json" 50th); p99=$(vegeta_q "$f.vegeta.json" 99th)
      fi
      curl -fsSk "$scheme://$addr/stats" >"$f.stats"
      local s50 s99; s50=$(route_num "$f.stats" /delay p50); s99=$(route_num "$f.stats" /delay p99)
      ACH[$tool]+=" $(route_num "$f.stats" /delay rate_rps)"
      P50[$tool]+=" $p50"; P99[$tool]+=" $p99"; S50[$tool]+=" $s50"; S99[$tool]+=" $s99"
      D50[$tool]+=" $(awk -v a="$p50" -v b="$s50" 'BEGIN{print a-b}')"
      D99[$tool]+=" $(awk -v a="$p99" -v b="$s99" 'BEGIN{print a-b}')"
    done
  done
  for tool in "${tools[@]}"; do
    # shellcheck disable=SC2086
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$tool" "$(stat ${ACH[$tool]})" "$(stat ${P50[$tool]})" "$(stat ${S50[$tool]})" \
      "$(stat ${P99[$tool]})" "$(stat ${S99[$tool]})" "$(stat ${D50[$tool]})" "$(stat ${D99[$tool]})" >>"$WORK/table.md"
  done
}

coordinated_omission() { # scheme addr
  local scheme=$1 addr=$2 rate=200 s=$DUR k=""
  [ "$scheme" = https ] && k=1
  {
    echo
    echo "### Coordinated omission — $scheme, /stall (500 ms stall every 2 s), open model $rate rps, ${s} s, $REPS runs"
    echo
    echo "Expected (CO-free): p90 ≈ 300 ms, p99 ≈ 480 ms. loadgate's service time is measured from the actual send. Load average at the start: $(loadavg)."
    echo
    echo "| tool | p90 ms | p99 ms | service-time p90 ms | service-time p99 ms |"
    echo "|---|---:|---:|---:|---:|"
  } >>"$WORK/table.md"
  local tool r url="$scheme://$addr/stall" tools=(loadgate vegeta)
  [ -n "$BEFORE_BIN" ] && tools=(loadgate loadgate-before vegeta)
  declare -A P90=() P99=() V90=() V99=()
  for r in $(seq "$REPS"); do
    for tool in "${tools[@]}"; do
      local f=$WORK/co-$scheme-$tool-$r
      log "coordinated omission $scheme $tool run $r"
      if [ "$tool" != vegeta ]; then
        local bin=$BIN/loadgate; [ "$tool" = loadgate-before ] && bin=$BEFORE_BIN
        LGBIN=$bin lg "$f" "$url" "rate: $rate/s, duration: ${s}s"
        P90[$tool]+=" $(lgq "$f" '.endpoints[0].latency_ms.p90')"; P99[$tool]+=" $(lgq "$f" '.endpoints[0].latency_ms.p99')"
        V90[$tool]+=" $(lgq "$f" '.endpoints[0].service_time_ms.p90')"; V99[$tool]+=" $(lgq "$f" '.endpoints[0].service_time_ms.p99')"
      else
        echo "GET $url" >"$f.targets"
        timed "$f" sh -c "exec '$BIN/vegeta' attack ${k:+-insecure} -targets '$f.targets' -rate $rate -duration ${s}s -output '$f.bin'"
        "$BIN/vegeta" report -type=json <"$f.bin" >"$f.vegeta.json"
        P90[$tool]+=" $(vegeta_q "$f.vegeta.json" 90th)"; P99[$tool]+=" $(vegeta_q "$f.vegeta.json" 99th)"
      fi
    done
  done
  for tool in "${tools[@]}"; do
    local sv90="—" sv99="—"
    # shellcheck disable=SC2086
    if [ -n "${V90[$tool]:-}" ]; then sv90=$(stat ${V90[$tool]}); sv99=$(stat ${V99[$tool]}); fi
    # shellcheck disable=SC2086
    printf '| %s | %s | %s | %s | %s |\n' "$tool" "$(stat ${P90[$tool]})" "$(stat ${P99[$tool]})" "$sv90" "$sv99" >>"$WORK/table.md"
  done
}

# rss_trace PID FILE: the process's RSS (MiB) every 10 s until it exits
rss_trace() {
  local pid=$1 out=$2 t=0
  : >"$out"
  while kill -0 "$pid" 2>/dev/null; do
    sleep 10; t=$((t + 10))
    awk -v t=$t '/^VmRSS/ {printf "%ds %.1f\n", t, $2/1024}' "/proc/$pid/status" 2>/dev/null >>"$out" || true
  done
}

memory() {
  local rate=2000
  {
    echo
    echo "### Memory — \`loadgate run\`, open model $rate rps against the Go target's /fast"
    echo
    echo "Load average at the start: $(loadavg). RSS over time: the long run's resident set every 10 s."
    echo
    echo "| scheme | duration | runs | peak RSS MiB | RSS over time MiB | results file KiB | requests |"
    echo "|---|---:|---:|---:|---|---:|---:|"
  } >>"$WORK/table.md"
  local scheme s reps addr
  for scheme in http https; do
    addr=$GO_ADDR; [ "$scheme" = https ] && addr=$GO_TLS_ADDR
    for s in $DUR $LONG; do
      reps=$REPS; [ "$s" = "$LONG" ] && reps=1   # one long run each keeps the script shorter
      local rss=() size=() req=() trace="—"
      for r in $(seq "$reps"); do
        local f=$WORK/mem-$scheme-$s-$r
        log "memory $scheme ${s}s run $r"
        lg_plan "$f.plan.yaml" "$scheme://$addr/fast" "rate: $rate/s, duration: ${s}s"
        /usr/bin/time -f "%U %S %M" -o "$f.time" "$BIN/loadgate" run "$f.plan.yaml" -q -o "$f.json" >"$f.out" 2>&1 &
        local tpid=$! lpid="" rpid=""
        for _ in $(seq 50); do lpid=$(pgrep -P "$tpid" || true); [ -n "$lpid" ] && break; sleep 0.1; done
        if [ "$s" = "$LONG" ] && [ -n "$lpid" ]; then rss_trace "$lpid" "$f.rss" & rpid=$!; fi
        wait "$tpid" || true
        if [ -n "$rpid" ]; then wait "$rpid" || true; fi
        if [ -s "$f.rss" ] 2>/dev/null; then trace=$(awk '{printf "%s%s: %s", (NR>1? ", " : ""), $1, $2}' "$f.rss"); fi
        rss+=("$(rss_of "$f")")
        size+=("$(awk -v b="$(wc -c <"$f.json")" 'BEGIN{printf "%.1f", b/1024}')")
        req+=("$(lgq "$f" .total.requests)")
      done
      printf '| %s | %s s | %s | %s | %s | %s | %s |\n' "$scheme" "$s" "$reps" "$(stat "${rss[@]}")" "$trace" "$(stat "${size[@]}")" "$(stat "${req[@]}")" >>"$WORK/table.md"
      eval "MEM_${scheme}_${s}=$(median "${rss[@]}")"
    done
  done
}

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# --- main ------------------------------------------------------------------
install_peers
start_targets
: >"$WORK/table.md"
started=$(date -u +%s)
load0=$(loadavg)
wantEff() { case " $EFF " in *" $1 "*) return 0 ;; esac; return 1; }
if want efficiency; then
  if wantEff gohttps; then efficiency gohttps "HTTPS, Go target" "https://$GO_TLS_ADDR/fast" "$DUR" loadgate loadgate-h2 wrk bombardier hey vegeta; fi
  if wantEff nginxhttps; then efficiency nginxhttps "HTTPS, nginx" "https://$NGINX_TLS_ADDR/" "$NGINX_DUR"; fi
  if wantEff go; then efficiency go "HTTP, Go target" "http://$GO_ADDR/fast" "$DUR"; fi
  if wantEff nginx; then efficiency nginx "HTTP, nginx" "http://$NGINX_ADDR/" "$NGINX_DUR"; fi
fi
if want accuracy; then accuracy http "$GO_ADDR"; accuracy https "$GO_TLS_ADDR"; fi
if want co; then coordinated_omission http "$GO_ADDR"; coordinated_omission https "$GO_TLS_ADDR"; fi
if want memory; then memory; fi
elapsed=$(( $(date -u +%s) - started ))
load1=$(loadavg)

ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}'; }
{
  echo "# loadgate benchmarks"
  echo
  echo "Measured by \`bench/run.sh\` on $(date -u +%Y-%m-%d) — $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(go version | cut -d' ' -f3), $REPS runs per figure, median (min–max), total ${elapsed} s."
  echo "Every loadgate figure is \`loadgate run PLAN\`: the binary built from ./cmd/loadgate, as users run it."
  echo
  echo "**Caveat:** generator and target share the same CPUs, and this host was shared with other jobs"
  echo "while measuring (load average $load0 at the start, $load1 at the end, on $(nproc) CPUs); absolute"
  echo "rates are noisy. The fair comparison is requests per generator CPU-second (user+sys of the generator"
  echo "process), measured for all tools side by side in the same run, and the ratios below come from it."
  echo
  if want efficiency; then
    echo "Efficiency ratios (requests per generator CPU-second, medians of this run):"
    echo
    before_h="" before_r=""; [ -n "$BEFORE_BIN" ] && before_h=" loadgate / loadgate-before |" before_r="---:|"
    echo "| | loadgate / wrk | loadgate / bombardier | loadgate / vegeta | loadgate / hey |$before_h"
    echo "|---|---:|---:|---:|---:|$before_r"
    for k in $EFF; do
      eval "l=\${EFF_${k}_loadgate:-0} w=\${EFF_${k}_wrk:-0} b=\${EFF_${k}_bombardier:-0} v=\${EFF_${k}_vegeta:-0} h=\${EFF_${k}_hey:-0} o=\${EFF_${k}_loadgate_before:-0}"
      case $k in gohttps) n="HTTPS, Go target" ;; nginxhttps) n="HTTPS, nginx" ;; go) n="HTTP, Go target" ;; nginx) n="HTTP, nginx" ;; esac
      # shellcheck disable=SC2154
      echo "| $n | $(ratio "$l" "$w") | $(ratio "$l" "$b") | $(ratio "$l" "$v") | $(ratio "$l" "$h") |${before_h:+ $(ratio "$l" "$o") |}"
    done
  fi
  cat "$WORK/table.md"
  echo
  echo "Peers: wrk, hey, nginx $(nginx -v 2>&1 | cut -d/ -f2) (Debian), vegeta v12.13.0, bombardier v1.2.6."
  echo "Microbenchmarks of the hot path: \`go test -run - -bench . ./runners/local/\`."
} >"$OUT"
cat "$OUT"
