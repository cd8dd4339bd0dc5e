package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// screenshotDir keeps the browser test's screenshots as build artifacts, e.g.
// go test ./report -run Browser -screenshot-dir=$PWD/artifacts. They are
// always written under the test's temp dir as well.
var screenshotDir = flag.String("screenshot-dir", "", "also copy browser-test screenshots to this directory")

// ensureTool returns the path of the first of bins found, installing Debian
// package pkg when none is (the CI machine runs as root with apt). It returns
// "" and a reason when the tool cannot be had; callers skip with that reason.
func ensureTool(pkg string, bins ...string) (string, string) {
	look := func() string {
		for _, n := range bins {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}
		return ""
	}
	if p := look(); p != "" {
		return p, ""
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		return "", fmt.Sprintf("%s is not installed and cannot be installed here (needs apt-get as root): apt-get install -y %s", bins[0], pkg)
	}
	install := func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, apt, "install", "-y", "--no-install-recommends", pkg)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	out, err := install()
	if err != nil {
		// A fresh machine may have no package lists yet.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		_ = exec.CommandContext(ctx, apt, "update").Run()
		cancel()
		out, err = install()
	}
	if err != nil {
		return "", fmt.Sprintf("apt-get install %s failed: %v\n%s", pkg, err, lastLines(string(out), 5))
	}
	if p := look(); p != "" {
		return p, ""
	}
	return "", pkg + " installed but " + bins[0] + " not found on PATH"
}

// findChromium returns a headless-capable Chromium (Debian's chromium).
var findChromium = sync.OnceValues(func() (string, string) {
	return ensureTool("chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
})

// findXmllint returns xmllint (Debian's libxml2-utils).
var findXmllint = sync.OnceValues(func() (string, string) {
	return ensureTool("libxml2-utils", "xmllint")
})

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// headless runs Chromium on a local file with every network-using feature
// off; extra adds the action (--dump-dom or --screenshot=…).
func headless(t *testing.T, bin, page string, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, lastLines(errb.String(), 20))
	}
	return out.String(), errb.String()
}

// consoleProblems finds console messages and blocked loads in Chromium's log:
// the page has no script, so any console line or CSP refusal is a defect.
var reConsole = regexp.MustCompile(`(?m)^.*(:CONSOLE[:(]|Refused to|Uncaught|net::ERR_).*$`)

func TestBrowserRendersHTMLReport(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the headless-browser test")
	}
	bin, why := findChromium()
	if bin == "" {
		t.Skip(why)
	}
	dir := t.TempDir()

	// The detector must see a console error on a page that makes one, or its
	// silence below would prove nothing.
	bad := filepath.Join(dir, "console-error.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><title>x</title><script>console.error("boom")</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, log := headless(t, bin, bad, "--dump-dom"); !reConsole.MatchString(log) {
		t.Fatalf("console detector missed a console.error; chromium log:\n%s", lastLines(log, 20))
	}

	for name, in := range map[string]Input{"verdict": fixtureInput(), "stress": profileInput("stress")} {
		page := filepath.Join(dir, name+".html")
		if err := os.WriteFile(page, render(t, "html", in, Options{}), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, log := headless(t, bin, page, "--dump-dom")
		if m := reConsole.FindAllString(log, -1); len(m) > 0 {
			t.Errorf("%s: console errors or blocked loads:\n%s", name, strings.Join(m, "\n"))
		}
		nSVG := strings.Count(dom, "<svg")
		if nSVG < 3 {
			t.Errorf("%s: rendered DOM has %d charts", name, nSVG)
		}
		if !strings.Contains(dom, "<path") || !strings.Contains(dom, "</figure>") {
			t.Errorf("%s: charts have no drawn paths", name)
		}
		if name == "verdict" && (!strings.Contains(dom, `id="verdict-table"`) || !strings.Contains(dom, "▲ regressed")) {
			t.Errorf("verdict table missing from the rendered DOM")
		}

		shot := filepath.Join(dir, name+".png")
		headless(t, bin, page, "--window-size=1280,2400", "--screenshot="+shot)
		assertNotBlank(t, shot)
		t.Logf("screenshot: %s", shot)
		if *screenshotDir != "" {
			data, err := os.ReadFile(shot)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(*screenshotDir, "report-"+name+".png"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// geometryScript measures every chart as the browser lays it out: where the
// legend is against the plotting area and the chart's own box, the lowest
// y-axis tick, and how far the lowest drawn point is above the x axis. The
// report has no script (its CSP forbids one); the test adds this one to a
// copy without the CSP.
const geometryScript = `<script>
(function () {
  var out = [];
  document.querySelectorAll("svg[data-chart]").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    var plot = svg.querySelector("rect.plot-area").getBoundingClientRect();
    var r = {kind: svg.getAttribute("data-chart"), ymin: parseFloat(svg.getAttribute("data-ymin")),
      plotH: plot.height, legend: false, overlap: false, clipped: false, lowestTick: null, gap: null};
    var leg = svg.querySelector("g.legend");
    if (leg) {
      var l = leg.getBoundingClientRect();
      r.legend = true;
      r.overlap = l.left < plot.right && l.right > plot.left && l.top < plot.bottom && l.bottom > plot.top;
      r.clipped = l.left < box.left - 1 || l.right > box.right + 1 || l.bottom > box.bottom + 1;
    }
    var ticks = svg.querySelectorAll("g.yticks text");
    if (ticks.length) { r.lowestTick = parseFloat(ticks[0].textContent); }
    var lowest = -Infinity;
    svg.querySelectorAll("path.series").forEach(function (p) { lowest = Math.max(lowest, p.getBoundingClientRect().bottom); });
    if (lowest > -Infinity) { r.gap = plot.bottom - lowest; }
    out.push(r);
  });
  var pre = document.createElement("pre");
  pre.id = "geometry";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`

type chartGeometry struct {
	Kind       string   `json:"kind"`
	YMin       float64  `json:"ymin"`
	PlotH      float64  `json:"plotH"`
	Legend     bool     `json:"legend"`
	Overlap    bool     `json:"overlap"`
	Clipped    bool     `json:"clipped"`
	LowestTick *float64 `json:"lowestTick"`
	Gap        *float64 `json:"gap"`
}

var reGeometry = regexp.MustCompile(`(?s)<pre id="geometry">(.*?)</pre>`)

// measureCharts lays page out in Chromium with geometryScript and returns
// what it measured.
func measureCharts(t *testing.T, bin, dir, name string, page []byte) []chartGeometry {
	t.Helper()
	s := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`).ReplaceAllString(string(page), "")
	s = strings.Replace(s, "</body>", geometryScript+"</body>", 1)
	path := filepath.Join(dir, name+"-geometry.html")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, _ := headless(t, bin, path, "--window-size=1280,2400", "--dump-dom")
	m := reGeometry.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("%s: the geometry script did not run", name)
	}
	var gs []chartGeometry
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &gs); err != nil {
		t.Fatalf("%s: geometry %q: %v", name, m[1], err)
	}
	return gs
}

// TestBrowserChartGeometry checks, as laid out by a browser, that no legend
// covers its chart's plotting area or is cut off, and that the percentile
// chart's latency axis starts near the fastest request rather than at 0 ms.
func TestBrowserChartGeometry(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the headless-browser test")
	}
	bin, why := findChromium()
	if bin == "" {
		t.Skip(why)
	}
	dir := t.TempDir()

	// Controls: the measurements must see a legend moved over the lines and
	// a percentile axis drawn from 0, or their silence below proves nothing.
	c := &lineChart{Kind: "percentile", XLabel: "x", YLabel: "y", YFromZero: true,
		Series: []lineSeries{{Name: "current", Pts: []point{{0, 23}, {1, 40}, {2, 80}}, Color: colBlue, Width: 2}}}
	bad := strings.Replace(string(c.render()), `<g class="legend">`, `<g class="legend" transform="translate(0,-120)">`, 1)
	control := measureCharts(t, bin, dir, "control", []byte("<!DOCTYPE html><html><body>"+bad+"</body></html>"))
	if len(control) != 1 || !control[0].Overlap || control[0].LowestTick == nil || *control[0].LowestTick != 0 || control[0].Gap == nil || *control[0].Gap < 10 {
		t.Fatalf("geometry controls not detected: %+v", control)
	}

	inputs := map[string]Input{"verdict": fixtureInput()}
	for _, k := range []string{"stress", "spike", "endurance", "volume", "scalability"} {
		inputs[k] = profileInput(k)
	}
	kinds := map[string]int{}
	for name, in := range inputs {
		gs := measureCharts(t, bin, dir, name, render(t, "html", in, Options{}))
		if len(gs) == 0 {
			t.Fatalf("%s: no charts measured", name)
		}
		for i, g := range gs {
			kinds[g.Kind]++
			if g.Legend && (g.Overlap || g.Clipped) {
				t.Errorf("%s chart %d (%s): legend overlaps the plotting area (%v) or is cut off (%v)", name, i, g.Kind, g.Overlap, g.Clipped)
			}
			if g.Kind != "percentile" {
				continue
			}
			// Every fixture request takes more than 0 ms: the axis starts
			// at the fastest one, labelled, and the curve starts on it.
			if g.LowestTick == nil || g.Gap == nil {
				t.Errorf("%s chart %d: no y tick or no curve", name, i)
				continue
			}
			if *g.LowestTick <= 0 || g.YMin <= 0 || math.Abs(*g.LowestTick-g.YMin) > 0.01*g.YMin+0.005 {
				t.Errorf("%s chart %d: percentile axis starts at %v (data-ymin %v), want the fastest request, above 0 ms", name, i, *g.LowestTick, g.YMin)
			}
			if *g.Gap > 2 {
				t.Errorf("%s chart %d: the curve starts %.1f px above the axis", name, i, *g.Gap)
			}
		}
	}
	for _, k := range []string{"percentile", "latency", "throughput", "curve-throughput", "curve-latency", "spike", "endurance", "payload-latency", "payload-bytes"} {
		if kinds[k] == 0 {
			t.Errorf("no %s chart was measured", k)
		}
	}
}

// assertNotBlank checks the screenshot decodes and has enough non-white
// pixels to hold text and charts (a blank or error page would not).
func assertNotBlank(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	var ink, colour, total int
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			total++
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				ink++
			}
			if max(r, g, bl)-min(r, g, bl) > 0x3000 {
				colour++
			}
		}
	}
	if b.Dx() < 1000 || ink*100 < total*2 || colour == 0 {
		t.Errorf("screenshot %s looks blank: %dx%d, %d of %d sampled pixels inked, %d coloured", path, b.Dx(), b.Dy(), ink, total, colour)
	}
}
