package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/results"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README's verdict table from testdata/verdicts/verdicts.tsv")

// verdictCase is one row of testdata/verdicts/verdicts.tsv.
type verdictCase struct {
	id, verdict, situation, contains string
	exit                             int
}

const verdictTable = "../../testdata/verdicts/verdicts.tsv"

func readVerdictTable(t *testing.T) []verdictCase {
	t.Helper()
	f, err := os.Open(verdictTable)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []verdictCase
	sc := bufio.NewScanner(f)
	header := true
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if header {
			header = false
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 5 {
			t.Fatalf("%s:%d: %d columns, want 5 (case, exit, verdict, situation, output contains)", verdictTable, n, len(cols))
		}
		code, err := strconv.Atoi(cols[1])
		if err != nil || code < 0 || code > 4 {
			t.Fatalf("%s:%d: exit %q: want 0…4", verdictTable, n, cols[1])
		}
		out = append(out, verdictCase{id: cols[0], exit: code, verdict: cols[2], situation: cols[3], contains: cols[4]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// renderVerdictTable is the table's Markdown in README's "Exit codes".
func renderVerdictTable(cases []verdictCase) string {
	var b strings.Builder
	b.WriteString("| situation | exit | verdict |\n|---|---|---|\n")
	for _, c := range cases {
		v := c.verdict
		switch v {
		case "none":
			v = "— (no verdict)"
		case "compared":
			v = "compared (not refused)"
		}
		fmt.Fprintf(&b, "| %s | %d | %s |\n", c.situation, c.exit, v)
	}
	return b.String()
}

const (
	tableBegin = "<!-- verdicts: generated from testdata/verdicts/verdicts.tsv by `go test ./cmd/loadgate -run TestVerdicts -update-readme`; edit the TSV, not this table -->\n"
	tableEnd   = "<!-- end verdicts -->\n"
)

// TestVerdictsREADME fails when README's table differs from the rendering
// of testdata/verdicts/verdicts.tsv.
func TestVerdictsREADME(t *testing.T) {
	t.Parallel()
	readme := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, tableBegin), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no verdict table between %q and %q", tableBegin, tableEnd)
	}
	want := renderVerdictTable(readVerdictTable(t))
	got := s[i+len(tableBegin) : j]
	if got == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(readme, []byte(s[:i+len(tableBegin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README's verdict table differs from testdata/verdicts/verdicts.tsv (go test ./cmd/loadgate -run TestVerdictsREADME -update-readme):\ngot\n%s\nwant\n%s", got, want)
}

// TestVerdicts runs every situation of the table end to end through the CLI
// and checks its exit code, verdict and message. It is not parallel with
// other tests: none of its cases may share the process with a test that
// changes --max-file-size.
func TestVerdicts(t *testing.T) {
	cases := readVerdictTable(t)
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.id] = true
		setup, ok := verdictSituations[c.id]
		if !ok {
			t.Errorf("%s: case %q has no situation in verdictSituations", verdictTable, c.id)
			continue
		}
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			code, out := setup(t, t.TempDir())
			if code != c.exit {
				t.Errorf("exit %d, want %d\n%s", code, c.exit, out)
			}
			if !strings.Contains(out, c.contains) {
				t.Errorf("output lacks %q:\n%s", c.contains, out)
			}
			switch c.verdict {
			case "none":
				if strings.Contains(out, "verdict: ") {
					t.Errorf("a verdict was printed; want none:\n%s", out)
				}
			case "compared":
				if !strings.Contains(out, "verdict: ") || strings.Contains(out, "incompatible") {
					t.Errorf("want a verdict from a compatible baseline:\n%s", out)
				}
			default:
				if w := "verdict: " + strings.ToUpper(c.verdict) + " "; !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	for id := range verdictSituations {
		if !seen[id] {
			t.Errorf("situation %q is not in %s", id, verdictTable)
		}
	}
}

// cliOut runs the CLI and returns its exit code and stdout+stderr.
func cliOut(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	code, out, errOut := cli(t, context.Background(), env, args...)
	return code, out + errOut
}

// deadPlan is a short, light plan against url's path. The timeout is long:
// a busy test machine must not turn a healthy target into a timing-out one.
func deadPlan(url, path string) string {
	return `name: verdicts
target: ` + url + `
defaults: {timeout: 5s}
endpoints:
  - name: ep
    request: GET ` + path + `
profile: {type: load, rate: 20/s, duration: 2s}
`
}

// gateAgainst runs `gate` with no baseline file on a plan against url+path.
func gateAgainst(t *testing.T, dir, url, path string) (int, string) {
	t.Helper()
	p := writeFile(t, dir, "plan.yaml", deadPlan(url, path))
	return cliOut(t, nil, "gate", p, "-q", "--max-schedule-lag", "60s", "--baseline", filepath.Join(dir, "none.json"))
}

func targetServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(target.New(target.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// importPeer imports a peer tool's file under plan name "peer".
func importPeer(t *testing.T, dir, from, file, out string) (int, string) {
	t.Helper()
	return cliOut(t, nil, "import", "--from", from, "--plan-name", "peer", filepath.Join("..", "..", "testdata", "peers", file), "-o", filepath.Join(dir, out))
}

// mustImport imports a peer file and fails the test unless it succeeds.
func mustImport(t *testing.T, dir, from, file, out string) string {
	t.Helper()
	if code, msg := importPeer(t, dir, from, file, out); code != 0 {
		t.Fatalf("import %s: exit %d\n%s", file, code, msg)
	}
	return filepath.Join(dir, out)
}

// editResults rewrites a results file without the decoder's checks.
func editResults(t *testing.T, path string, edit func(*results.File)) {
	t.Helper()
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	if err := results.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
}

const headerOnlyJTL = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"

// verdictSituations builds each situation of the table and runs the CLI on it.
var verdictSituations = map[string]func(t *testing.T, dir string) (int, string){
	"healthy-no-baseline": func(t *testing.T, dir string) (int, string) {
		return gateAgainst(t, dir, targetServer(t), "/fast")
	},
	"dead-reset": func(t *testing.T, dir string) (int, string) {
		return gateAgainst(t, dir, targetServer(t), "/reset")
	},
	"dead-500": func(t *testing.T, dir string) (int, string) {
		return gateAgainst(t, dir, targetServer(t), "/status?code=500")
	},
	"dead-timeout": func(t *testing.T, dir string) (int, string) {
		// Longer than the plan's timeout, however busy the machine.
		return gateAgainst(t, dir, targetServer(t), "/delay?ms=8000")
	},
	"errors-no-baseline": func(t *testing.T, dir string) (int, string) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%5 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}))
		t.Cleanup(srv.Close)
		return gateAgainst(t, dir, srv.URL, "/")
	},
	"refused": func(t *testing.T, dir string) (int, string) {
		return gateAgainst(t, dir, "http://127.0.0.1:1", "/")
	},
	"update-dead": func(t *testing.T, dir string) (int, string) {
		p := writeFile(t, dir, "plan.yaml", deadPlan(targetServer(t), "/status?code=500"))
		code, out := cliOut(t, nil, "baseline", "update", p, "-q", "--max-schedule-lag", "60s", "--baseline", filepath.Join(dir, "b.json"))
		if _, err := os.Stat(filepath.Join(dir, "b.json")); err == nil {
			t.Error("the dead run was written to the baseline")
		}
		return code, out
	},
	"zero-vs-baseline": func(t *testing.T, dir string) (int, string) {
		base := mustImport(t, dir, "jmeter-csv", "jmeter-2.13/results.jtl", "base.json")
		if code, out := cliOut(t, nil, "baseline", "update", base, "--baseline", filepath.Join(dir, "b.json")); code != 0 {
			t.Fatalf("baseline update: %d\n%s", code, out)
		}
		writeFile(t, dir, "empty.jtl", headerOnlyJTL)
		if code, out := cliOut(t, nil, "import", "--from", "jmeter-csv", "--plan-name", "peer", filepath.Join(dir, "empty.jtl"), "-o", filepath.Join(dir, "head.json")); code != exitInvalid {
			t.Fatalf("import of a header-only JTL: exit %d\n%s", code, out)
		}
		return cliOut(t, nil, "compare", "--baseline", filepath.Join(dir, "b.json"), filepath.Join(dir, "head.json"))
	},
	"import-empty-jtl": func(t *testing.T, dir string) (int, string) {
		in := writeFile(t, dir, "empty.jtl", headerOnlyJTL)
		code, out := cliOut(t, nil, "import", "--from", "jmeter-csv", in, "-o", filepath.Join(dir, "r.json"))
		if f, err := results.ReadFile(filepath.Join(dir, "r.json")); err != nil || f.Validity.Valid {
			t.Errorf("results of an empty import: %v, want written and invalid", err)
		}
		return code, out
	},
	"import-locust-failures": func(t *testing.T, dir string) (int, string) {
		return importPeer(t, dir, "locust-stats", "locust-2.12.1/run_failures.csv", "r.json")
	},
	"unmeasured": func(t *testing.T, dir string) (int, string) {
		base := mustImport(t, dir, "locust-stats", "locust-2.12.1/run_stats.csv", "base.json")
		if code, out := cliOut(t, nil, "baseline", "update", base, "--baseline", filepath.Join(dir, "b.json")); code != 0 {
			t.Fatalf("baseline update: %d\n%s", code, out)
		}
		head := mustImport(t, dir, "locust-history", "locust-2.12.1/run_stats_history.csv", "head.json")
		// The two files come from different runs; a loose throughput
		// tolerance leaves only the percentiles to judge.
		p := writeFile(t, dir, "plan.yaml", deadPlan("http://127.0.0.1:1", "/")+"gate: {throughput: -50%}\n")
		return cliOut(t, nil, "compare", "--plan", p, "--baseline", filepath.Join(dir, "b.json"), head)
	},
	"results-errors-disagree": func(t *testing.T, dir string) (int, string) {
		r := mustImport(t, dir, "jmeter-csv", "jmeter-2.13/results.jtl", "r.json")
		editResults(t, r, func(f *results.File) {
			f.Endpoints[0].Errors = f.Endpoints[0].Requests
			for i := range f.Endpoints[0].Windows {
				f.Endpoints[0].Windows[i].Errors = 0
			}
		})
		return cliOut(t, nil, "compare", "--baseline", r, r)
	},
	"results-histogram-disagree": func(t *testing.T, dir string) (int, string) {
		r := mustImport(t, dir, "jmeter-csv", "jmeter-2.13/results.jtl", "r.json")
		editResults(t, r, func(f *results.File) {
			f.Endpoints[0].Requests, f.Endpoints[0].Windows = 999999, nil
		})
		return cliOut(t, nil, "report", r, "--format", "text", "-o", filepath.Join(dir, "out.txt"))
	},
	"results-too-large": func(t *testing.T, dir string) (int, string) {
		// A sparse file: refused from its size, before a byte is read.
		big := filepath.Join(dir, "big.json")
		if err := os.WriteFile(big, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(big, results.DefaultMaxFileBytes+1); err != nil {
			t.Fatal(err)
		}
		r := mustImport(t, dir, "jmeter-csv", "jmeter-2.13/results.jtl", "r.json")
		return cliOut(t, nil, "compare", "--baseline", big, r)
	},
	"target-from-env": func(t *testing.T, dir string) (int, string) {
		url := targetServer(t)
		p := writeFile(t, dir, "plan.yaml", deadPlan("${TARGET_URL:-"+url+"}", "/fast"))
		b := filepath.Join(dir, "b.json")
		if code, out := cliOut(t, nil, "baseline", "update", p, "-q", "--max-schedule-lag", "60s", "--baseline", b); code != 0 {
			t.Fatalf("baseline update: %d\n%s", code, out)
		}
		return cliOut(t, map[string]string{"TARGET_URL": url}, "gate", p, "-q", "--max-schedule-lag", "60s", "--baseline", b)
	},
	"plan-changed": func(t *testing.T, dir string) (int, string) {
		var hits atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
		t.Cleanup(srv.Close)
		base := mustImport(t, dir, "jmeter-csv", "jmeter-2.13/results.jtl", "base.json")
		b := filepath.Join(dir, "b.json")
		if code, out := cliOut(t, nil, "baseline", "update", base, "--baseline", b); code != 0 {
			t.Fatalf("baseline update: %d\n%s", code, out)
		}
		p := writeFile(t, dir, "plan.yaml", deadPlan(srv.URL, "/"))
		code, out := cliOut(t, nil, "gate", p, "-q", "--baseline", b)
		if n := hits.Load(); n != 0 {
			t.Errorf("%d requests sent before the baseline was refused", n)
		}
		return code, out
	},
}

// TestMaxFileSizeFlag: --max-file-size lowers (and raises) the limit. Not
// parallel: the limit is the process's.
func TestMaxFileSizeFlag(t *testing.T) {
	dir := t.TempDir()
	r := mustImport(t, dir, "jmeter-csv", "jmeter-2.13/results.jtl", "r.json")
	code, out := cliOut(t, nil, "report", r, "--max-file-size", "1KiB", "--format", "text", "-o", filepath.Join(dir, "o.txt"))
	if code != exitUsage || !strings.Contains(out, "larger than the 1 KiB limit") || !strings.Contains(out, "--max-file-size") {
		t.Errorf("1 KiB limit: exit %d\n%s", code, out)
	}
	if code, out := cliOut(t, nil, "report", r, "--max-file-size", "1MiB", "--format", "text", "-o", filepath.Join(dir, "o.txt")); code != 0 {
		t.Errorf("1 MiB limit: exit %d\n%s", code, out)
	}
}
