package pipeline

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/plan"
)

func TestParseRegions(t *testing.T) {
	t.Parallel()
	names, counts, err := parseRegions(" eu-west-1:10, ,us-east-1:5")
	if err != nil || !reflect.DeepEqual(names, []string{"eu-west-1", "us-east-1"}) || !reflect.DeepEqual(counts, []int{10, 5}) {
		t.Fatalf("got %v %v %v", names, counts, err)
	}
	for _, bad := range []string{"", ",", "eu-west-1", "eu-west-1:0", "eu-west-1:-2", ":3", "eu-west-1:x"} {
		if _, _, err := parseRegions(bad); err == nil || !strings.HasPrefix(err.Error(), "--regions: ") {
			t.Errorf("parseRegions(%q): err %v, want a --regions error", bad, err)
		}
	}
}

func TestPerRegionPrefersTheRegionsOwnEntries(t *testing.T) {
	t.Parallel()
	entries := []string{"subnet-all", "eu-west-1=subnet-eu", "us-east-1=subnet-us1", "us-east-1=subnet-us2"}
	for region, want := range map[string][]string{
		"eu-west-1":  {"subnet-eu"},
		"us-east-1":  {"subnet-us1", "subnet-us2"},
		"ap-south-1": {"subnet-all"},
	} {
		if got := perRegion(entries, region); !reflect.DeepEqual(got, want) {
			t.Errorf("perRegion(%s) = %v, want %v", region, got, want)
		}
	}
}

func TestSplitCountsKeepsEveryTask(t *testing.T) {
	t.Parallel()
	specs, err := splitCounts([]string{"a", "b"}, []int{3, 1})
	if err != nil {
		t.Fatal(err)
	}
	byRegion := map[string]int{}
	for _, s := range specs {
		byRegion[s.Region]++
	}
	if len(specs) != 4 || byRegion["a"] != 3 || byRegion["b"] != 1 {
		t.Fatalf("specs %+v", specs)
	}
}

func awsTestOptions(t *testing.T) AWSOptions {
	t.Helper()
	var o AWSOptions
	fs := pflag.NewFlagSet("aws", pflag.ContinueOnError)
	BindAWSRunFlags(fs, &o)
	if err := fs.Parse([]string{"--store", "s3://b/p", "--subnets", "subnet-1"}); err != nil {
		t.Fatal(err)
	}
	return o
}

func awsTestPlan(t *testing.T, allow string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse([]byte("name: p\ntarget: http://10.9.8.7\n"+allow+"endpoints:\n  - name: a\n    request: GET /\nprofile:\n  type: load\n  rate: 1/s\n  duration: 2h\n"),
		"p.yaml", "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The safety rails refuse before any AWS call, naming every problem.
func TestAWSRunOptionsRefusesWhatTheRailsForbid(t *testing.T) {
	t.Parallel()
	o := awsTestOptions(t)
	o.Regions = "eu-west-1:60,us-east-1:60"
	o.Subnets = nil
	env := Env{Getenv: func(string) string { return "" }, Stderr: &strings.Builder{}}
	_, _, err := AWSRunOptions(context.Background(), awsTestPlan(t, ""), o, env)
	var e *Error
	if !errors.As(err, &e) || e.Code != ExitUsage {
		t.Fatalf("err %v, want exit %d", err, ExitUsage)
	}
	for _, want := range []string{"targets.allow", "120 tasks exceed --max-tasks 100", "exceeds --max-duration 1h0m0s", "--subnets is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	o = awsTestOptions(t)
	o.Regions = "eu-west-1"
	if _, _, err := AWSRunOptions(context.Background(), awsTestPlan(t, "targets: {allow: [10.9.8.7]}\n"), o, env); !errors.As(err, &e) || e.Code != ExitUsage || !strings.Contains(err.Error(), "--regions") {
		t.Fatalf("bad --regions: err %v", err)
	}
}

func TestAWSPreflightHardCaps(t *testing.T) {
	t.Parallel()
	o := awsTestOptions(t)
	o.MaxTasks, o.MaxDuration = 1<<20, 100*time.Hour
	p := awsTestPlan(t, "targets: {allow: [10.9.8.7]}\n")
	p.Profile.Duration = 13 * time.Hour
	err := awsPreflight(p, o, AWSHardMaxTasks+1)
	for _, want := range []string{"hard cap of 10000", "hard cap of 12h0m0s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	p.Profile.Duration = time.Minute
	if err := awsPreflight(p, o, 3); err != nil {
		t.Errorf("a plan within the rails: %v", err)
	}
}

func TestAWSCleanupWantsExactlyOneSelector(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		runID string
		older time.Duration
	}{{"", 0}, {"lg-1", time.Hour}} {
		err := AWSCleanup(context.Background(), "eu-west-1", "loadgate", c.runID, c.older, Env{})
		var e *Error
		if !errors.As(err, &e) || e.Code != ExitUsage {
			t.Errorf("run id %q, older %s: err %v, want exit %d", c.runID, c.older, err, ExitUsage)
		}
	}
}
