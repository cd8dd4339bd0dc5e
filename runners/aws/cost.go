package aws

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// Fargate prices, Linux/x86, on-demand, USD per vCPU-hour and per GB-hour, as
// published on https://aws.amazon.com/fargate/pricing/ (the table loadgate
// ships was taken in 2024-06; prices change, so the estimate says which table
// it used). Fargate Spot is cheaper but variable: estimates use on-demand
// prices, an upper bound.
const (
	fargatePriceSource = "aws.amazon.com/fargate/pricing, Linux/x86 on-demand, table of 2024-06"
	// fargateMinimumBilled is Fargate's one-minute minimum charge per task
	// (same page: "billed per second with a 1-minute minimum").
	fargateMinimumBilled = time.Minute
)

// Price is a Fargate price per vCPU-hour and per GB-hour of memory.
type Price struct {
	VCPUHour float64
	GBHour   float64
}

// fargatePrices is a slice, not a map: static data, so linking the table
// costs no start-up work in commands that never estimate a cost.
var fargatePrices = []struct {
	region string
	Price
}{
	{"us-east-1", Price{0.04048, 0.004445}},
	{"us-east-2", Price{0.04048, 0.004445}},
	{"us-west-2", Price{0.04048, 0.004445}},
	{"eu-west-1", Price{0.04048, 0.004445}},
	{"eu-central-1", Price{0.04656, 0.00511}},
	{"ap-northeast-1", Price{0.05056, 0.00553}},
}

// unknownRegionFactor prices a region missing from the table at this multiple
// of the highest listed price: an explicit assumption, stated in every
// estimate (docs/aws.md). Fargate's dearest regions cost well under twice the
// dearest listed one (ap-northeast-1) in the 2024-06 table, so the estimate
// stays an upper bound there.
const unknownRegionFactor = 2

// PriceFor returns region's price; for a region not in the table,
// unknownRegionFactor times the highest listed price, and known=false so the
// estimate states the assumption.
func PriceFor(region string) (p Price, known bool) {
	for _, q := range fargatePrices {
		if q.region == region {
			return q.Price, true
		}
	}
	for _, q := range fargatePrices {
		p.VCPUHour = math.Max(p.VCPUHour, q.VCPUHour)
		p.GBHour = math.Max(p.GBHour, q.GBHour)
	}
	p.VCPUHour *= unknownRegionFactor
	p.GBHour *= unknownRegionFactor
	return p, false
}

// TaskSize is a task definition's task-level size, which Fargate bills.
type TaskSize struct {
	VCPU     float64
	MemoryGB float64
	// TaskDefinition is the ARN (family:revision) the size was read from.
	TaskDefinition string
	// Env lists, per container name, the environment variables the task
	// definition gives it (environment and secrets: names only, never
	// values). EnvFiles marks containers that also load environment files,
	// whose variables cannot be known before a task starts.
	Env      map[string][]string
	EnvFiles map[string]bool
}

// MissingEnv returns the names of needs that the task definition does not
// give container. It returns nil when it cannot tell: the container is not
// in the task definition (RunTask's override then fails on its own) or it
// loads environment files.
func (s TaskSize) MissingEnv(container string, needs []string) []string {
	have, ok := s.Env[container]
	if !ok || s.EnvFiles[container] {
		return nil
	}
	var missing []string
	for _, n := range needs {
		if !slices.Contains(have, n) {
			missing = append(missing, n)
		}
	}
	return missing
}

// Class is the size in a runner class: "1vcpu-2gb".
func (s TaskSize) Class() string { return fmt.Sprintf("%gvcpu-%ggb", s.VCPU, s.MemoryGB) }

// DescribeTaskSize reads taskDef's CPU and memory (ecs:DescribeTaskDefinition):
// the cost cap must price what the stack deployed, not what flags claim.
func DescribeTaskSize(ctx context.Context, api ECSAPI, taskDef string) (TaskSize, error) {
	out, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(taskDef)})
	if err != nil {
		return TaskSize{}, err
	}
	td := out.TaskDefinition
	if td == nil {
		return TaskSize{}, fmt.Errorf("task definition %s: empty answer", taskDef)
	}
	cpu, cerr := parseSize(aws.ToString(td.Cpu), "vcpu", 1024)
	mem, merr := parseSize(aws.ToString(td.Memory), "gb", 1024)
	if cerr != nil || merr != nil {
		return TaskSize{}, fmt.Errorf("task definition %s: task-level cpu %q / memory %q: Fargate needs both (%w)",
			aws.ToString(td.TaskDefinitionArn), aws.ToString(td.Cpu), aws.ToString(td.Memory), errors.Join(cerr, merr))
	}
	sz := TaskSize{VCPU: cpu, MemoryGB: mem, TaskDefinition: aws.ToString(td.TaskDefinitionArn), Env: map[string][]string{}, EnvFiles: map[string]bool{}}
	for _, c := range td.ContainerDefinitions {
		name := aws.ToString(c.Name)
		names := []string{}
		for _, kv := range c.Environment {
			names = append(names, aws.ToString(kv.Name))
		}
		for _, sec := range c.Secrets {
			names = append(names, aws.ToString(sec.Name))
		}
		sz.Env[name] = names
		if len(c.EnvironmentFiles) > 0 {
			sz.EnvFiles[name] = true
		}
	}
	return sz, nil
}

// parseSize reads "1024" (CPU units or MiB, divided by per) or "1 vCPU" /
// "2 GB" (the unit named).
func parseSize(s, unit string, per float64) (float64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	v, named := strings.CutSuffix(s, unit)
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("bad size %q", s)
	}
	if named {
		return f, nil
	}
	return f / per, nil
}

// TaskSizes describes the task definition of every region.
func TaskSizes(ctx context.Context, regions []Region, clients func(context.Context, string) (ECSAPI, error)) (map[string]TaskSize, error) {
	out := map[string]TaskSize{}
	var errs []error
	for _, r := range regions {
		api, err := clients(ctx, r.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sz, err := DescribeTaskSize(ctx, api, r.TaskDefinition)
		if err != nil {
			errs = append(errs, &RegionError{Region: r.Name, Op: "DescribeTaskDefinition", Err: err})
			continue
		}
		out[r.Name] = sz
	}
	return out, errors.Join(errs...)
}

// RunnerClass names the runner class of a run: "aws/1vcpu-2gb/x10/eu-west-1",
// with each region's size where they differ ("aws/1vcpu-2gb+4vcpu-8gb/…").
func RunnerClass(sizes map[string]TaskSize, regions []string, tasks int) string {
	var cls []string
	for _, r := range regions {
		if c := sizes[r].Class(); !slices.Contains(cls, c) {
			cls = append(cls, c)
		}
	}
	return fmt.Sprintf("aws/%s/x%d/%s", strings.Join(cls, "+"), tasks, strings.Join(regions, "+"))
}

// Estimate is the cost estimate of a run printed before launch.
type Estimate struct {
	Tasks       int
	VCPUSeconds float64
	GBSeconds   float64
	USD         float64
	Lines       []string
	// Assumptions are what the estimate could not know (regions missing
	// from the price table).
	Assumptions []string
}

// EstimateCost prices tasks (region → count) of each region's size, each
// billed for perTask (at least fargateMinimumBilled).
func EstimateCost(tasks map[string]int, sizes map[string]TaskSize, perTask time.Duration) Estimate {
	billed := max(perTask, fargateMinimumBilled).Seconds()
	var e Estimate
	regions := make([]string, 0, len(tasks))
	for r := range tasks {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		n := tasks[r]
		sz := sizes[r]
		p, known := PriceFor(r)
		vs, gs := float64(n)*sz.VCPU*billed, float64(n)*sz.MemoryGB*billed
		usd := vs/3600*p.VCPUHour + gs/3600*p.GBHour
		e.Tasks += n
		e.VCPUSeconds += vs
		e.GBSeconds += gs
		e.USD += usd
		note := ""
		if !known {
			note = " (assumed price)"
			e.Assumptions = append(e.Assumptions, fmt.Sprintf("%s is not in loadgate's price table: priced at %d× the highest listed price", r, unknownRegionFactor))
		}
		e.Lines = append(e.Lines, fmt.Sprintf("%s: %d tasks × %g vCPU, %g GB (%s) × %.0fs = %.0f vCPU-s at $%.5f/vCPU-h; %.0f GB-s at $%.6f/GB-h → %s%s",
			r, n, sz.VCPU, sz.MemoryGB, orUnknown(sz.TaskDefinition), billed, vs, p.VCPUHour, gs, p.GBHour, USD(usd), note))
	}
	e.Lines = append(e.Lines, fmt.Sprintf("total: %d tasks, %.0f vCPU-s, %.0f GB-s, about %s (prices: %s)", e.Tasks, e.VCPUSeconds, e.GBSeconds, USD(e.USD), fargatePriceSource))
	for _, a := range e.Assumptions {
		e.Lines = append(e.Lines, "assumption: "+a)
	}
	return e
}

func orUnknown(s string) string {
	if s == "" {
		return "task definition not read"
	}
	if i := strings.LastIndex(s, "task-definition/"); i >= 0 {
		return s[i+len("task-definition/"):]
	}
	return s
}

// USD formats an amount with cents, and small amounts with their significant
// digits: a cap of $0.001 prints as $0.001, not $0.00.
func USD(v float64) string {
	if v != 0 && math.Abs(v) < 0.01 {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
		return "$" + strconv.FormatFloat(r, 'f', -1, 64)
	}
	return fmt.Sprintf("$%.2f", v)
}

// String is the estimate, one line per region, a total and the assumptions.
func (e Estimate) String() string { return strings.Join(e.Lines, "\n") }
