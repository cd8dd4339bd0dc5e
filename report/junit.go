package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/gate"
)

// JUnit XML, valid against the Jenkins JUnit schema (junit-4.xsd, which CI
// dashboards consume) and, when no check is inconclusive, against the Apache
// Ant JUnit.xsd too (Ant's schema has no <skipped>): every attribute Ant
// requires is always written.

// JUnitSuites is the document root.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one plan's checks.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Package    string          `xml:"package,attr"`
	ID         int             `xml:"id,attr"`
	Properties []JUnitProperty `xml:"properties>property"`
	Cases      []JUnitCase     `xml:"testcase"`
	SystemOut  JUnitText       `xml:"system-out"`
	SystemErr  JUnitText       `xml:"system-err"`
}

// JUnitText is element text written as CDATA, so multi-line text stays
// readable in the file.
type JUnitText struct {
	Text string `xml:",cdata"`
}

// JUnitProperty is a name/value pair of run metadata.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one endpoint×metric check.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *string       `xml:"skipped"`
	Error     *JUnitProblem `xml:"error"`
	Failure   *JUnitProblem `xml:"failure"`
}

// JUnitProblem is a failure or an error.
type JUnitProblem struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",cdata"`
}

// junitTimestamp is the Ant schema's ISO 8601 pattern (no zone; UTC).
const junitTimestamp = "2006-01-02T15:04:05"

// JUnit writes one testsuite for the plan with one testcase per endpoint and
// checked metric: regressed → failure (figures and interval in the message),
// inconclusive, new and missing → skipped with the reason, invalid → error.
// A "run validity" case records whether the generator held the schedule.
func JUnit(w io.Writer, in Input) error {
	if in.Verdict == nil {
		return fmt.Errorf("junit: %w", ErrNoVerdict)
	}
	doc := BuildJUnit(in)
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	buf.WriteString("\n")
	ew := &errWriter{w: w}
	_, _ = ew.Write(buf.Bytes())
	return ew.result("junit")
}

// BuildJUnit is the JUnit document for in (Verdict must be set).
func BuildJUnit(in Input) *JUnitSuites {
	v := in.Verdict
	plan := xmlToken(in.title())
	s := JUnitSuite{Name: plan, Package: "loadgate", Hostname: "unknown", Time: "0.000",
		Timestamp: time.Unix(0, 0).UTC().Format(junitTimestamp)}
	props := []JUnitProperty{
		{"loadgate.decision", string(v.Decision)},
		{"loadgate.exit_code", strconv.Itoa(v.ExitCode())},
		{"loadgate.mode", v.Mode},
		{"loadgate.base_runs", strconv.Itoa(v.BaseRuns)},
		{"loadgate.confidence", strconv.FormatFloat(v.Confidence, 'f', -1, 64)},
	}
	if h := in.Head; h != nil {
		if h.Run.Env.Host != "" {
			s.Hostname = xmlToken(h.Run.Env.Host)
		}
		if !h.Run.Started.IsZero() {
			s.Timestamp = h.Run.Started.UTC().Format(junitTimestamp)
		}
		if d := h.Run.Ended.Sub(h.Run.Started); d > 0 {
			s.Time = seconds(d)
		}
		add := func(name, value string) {
			if value != "" {
				props = append(props, JUnitProperty{name, value})
			}
		}
		add("loadgate.plan_hash", h.Plan.Hash)
		add("loadgate.profile", h.Profile.Type)
		add("loadgate.runner", h.Run.Runner)
		add("loadgate.runner_class", h.Run.RunnerClass)
		add("loadgate.git_sha", h.Run.Env.GitSHA)
		add("loadgate.ref", h.Run.Env.Ref)
		add("loadgate.tool_version", h.Run.Env.ToolVersion)
		add("loadgate.target", h.Run.Target)
	}
	s.Properties = props

	// Run validity first: an invalid run makes every other figure suspect.
	valid := JUnitCase{Name: "run validity", Classname: plan, Time: "0.000"}
	if v.Decision == gate.Invalid || (in.Head != nil && !in.Head.Validity.Valid) {
		msg := "the load generator did not hold the schedule; latencies describe the generator, not the target"
		var reasons []string
		if in.Head != nil {
			reasons = in.Head.Validity.Reasons
		}
		valid.Error = &JUnitProblem{Type: "invalid", Message: msg, Text: xmlSafe(strings.Join(append(reasons, v.Warnings...), "\n"))}
	}
	s.Cases = append(s.Cases, valid)
	if v.Decision == gate.Incompatible {
		s.Cases = append(s.Cases, JUnitCase{Name: "baseline compatibility", Classname: plan, Time: "0.000",
			Error: &JUnitProblem{Type: "incompatible", Message: "the baseline was recorded from a different plan, profile or runner class; no comparison was made",
				Text: xmlSafe(strings.Join(v.Incompatible, "\n"))}})
	}

	for _, e := range v.Endpoints {
		class := plan + "." + xmlToken(e.Name)
		if len(e.Checks) == 0 {
			c := JUnitCase{Name: "endpoint", Classname: class, Time: "0.000"}
			reason := string(e.Decision)
			if len(e.Warnings) > 0 {
				reason += ": " + strings.Join(e.Warnings, "; ")
			}
			switch e.Decision {
			case gate.Invalid:
				c.Error = &JUnitProblem{Type: "invalid", Message: reason}
			case gate.Regressed:
				c.Failure = &JUnitProblem{Type: "regressed", Message: reason}
			case gate.Pass, gate.Improved:
			default:
				c.Skipped = &reason
			}
			s.Cases = append(s.Cases, c)
			continue
		}
		for i := range e.Checks {
			ch := &e.Checks[i]
			name := ch.Label()
			if ch.Kind == "slo" {
				name += " SLO"
			}
			c := JUnitCase{Name: xmlToken(name), Classname: class, Time: "0.000"}
			msg := checkMessage(ch)
			detail := xmlSafe(checkDetail(ch, e.Warnings))
			switch ch.Decision {
			case gate.Regressed:
				c.Failure = &JUnitProblem{Type: "regressed", Message: msg, Text: detail}
			case gate.Invalid:
				c.Error = &JUnitProblem{Type: "invalid", Message: msg, Text: detail}
			case gate.Inconclusive, gate.New, gate.Missing:
				r := string(ch.Decision) + ": " + msg
				if len(ch.Warnings) > 0 {
					r += " — " + strings.Join(ch.Warnings, "; ")
				}
				c.Skipped = &r
			}
			s.Cases = append(s.Cases, c)
		}
	}
	for _, c := range s.Cases {
		s.Tests++
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	var out strings.Builder
	_ = Text(&out, in, Options{}) // the human table, for CI systems that show system-out
	s.SystemOut = JUnitText{xmlSafe(out.String())}
	return &JUnitSuites{Name: "loadgate", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Time: s.Time, Suites: []JUnitSuite{s}}
}

// checkMessage is the one-line summary: "p95 68.2 ms → 80.0 ms +12.6% [+8.1, +16.9] p=0.002 (tolerance +10%)".
func checkMessage(c *gate.Check) string {
	var b strings.Builder
	b.WriteString(c.Label())
	if c.Kind == "slo" {
		fmt.Fprintf(&b, " %s (SLO %s)", checkValue(c, gate.SideHead), c.Tolerance)
		return b.String()
	}
	fmt.Fprintf(&b, " %s → %s %s", checkValue(c, gate.SideBase), checkValue(c, gate.SideHead), checkChange(c))
	if c.Tolerance != "" {
		fmt.Fprintf(&b, " (tolerance %s)", c.Tolerance)
	}
	return b.String()
}

func checkDetail(c *gate.Check, endpointWarnings []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "metric: %s (%s)\nbaseline: %s\ncurrent: %s\n", c.Label(), c.Kind, checkValue(c, gate.SideBase), checkValue(c, gate.SideHead))
	switch {
	case len(c.NotMeasured) > 0:
		fmt.Fprintf(&b, "change: %s\n", notMeasured)
	case c.Unit == "%":
		fmt.Fprintf(&b, "change: %s\n", formatPP(c.Delta))
	default:
		fmt.Fprintf(&b, "change: %s\n", formatPct(c.Delta))
	}
	if c.HasCI {
		if c.Unit == "%" {
			fmt.Fprintf(&b, "interval: [%s, %s] pp\n", signed(c.CILow, 2), signed(c.CIHigh, 2))
		} else {
			fmt.Fprintf(&b, "interval: [%s%%, %s%%]\n", signed(c.CILow*100, 1), ciHigh(c.CIHigh))
		}
	}
	if c.PValue >= 0 {
		fmt.Fprintf(&b, "%s\n", formatP(c.PValue))
	}
	if c.Tolerance != "" {
		fmt.Fprintf(&b, "tolerance: %s\n", c.Tolerance)
	}
	for _, w := range append(append([]string(nil), c.Warnings...), endpointWarnings...) {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// xmlSafe replaces characters XML 1.0 cannot carry (CDATA is not escaped by
// encoding/xml, so text from a results file must be cleaned first).
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

// xmlToken makes s a valid xs:token (no line breaks or tabs, no leading,
// trailing or doubled spaces), as Ant's schema requires for names.
func xmlToken(s string) string {
	t := strings.Join(strings.Fields(s), " ")
	if t == "" {
		return "unnamed"
	}
	return t
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}
