package aws

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
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

var fargatePrices = map[string]Price{
	"us-east-1":      {0.04048, 0.004445},
	"us-east-2":      {0.04048, 0.004445},
	"us-west-2":      {0.04048, 0.004445},
	"eu-west-1":      {0.04048, 0.004445},
	"eu-central-1":   {0.04656, 0.00511},
	"ap-northeast-1": {0.05056, 0.00553},
}

// PriceFor returns region's price; for a region not in the table, the highest
// known price, and known=false so the estimate can say so.
func PriceFor(region string) (p Price, known bool) {
	if p, ok := fargatePrices[region]; ok {
		return p, true
	}
	for _, q := range fargatePrices {
		p.VCPUHour = math.Max(p.VCPUHour, q.VCPUHour)
		p.GBHour = math.Max(p.GBHour, q.GBHour)
	}
	return p, false
}

// Estimate is the cost estimate of a run printed before launch.
type Estimate struct {
	Tasks       int
	VCPUSeconds float64
	GBSeconds   float64
	USD         float64
	Lines       []string
}

// EstimateCost prices tasks (region → count) of vcpu vCPUs and memGB GB each,
// each billed for perTask (at least fargateMinimumBilled).
func EstimateCost(tasks map[string]int, vcpu, memGB float64, perTask time.Duration) Estimate {
	billed := max(perTask, fargateMinimumBilled).Seconds()
	var e Estimate
	regions := make([]string, 0, len(tasks))
	for r := range tasks {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		n := tasks[r]
		p, known := PriceFor(r)
		vs, gs := float64(n)*vcpu*billed, float64(n)*memGB*billed
		usd := vs/3600*p.VCPUHour + gs/3600*p.GBHour
		e.Tasks += n
		e.VCPUSeconds += vs
		e.GBSeconds += gs
		e.USD += usd
		note := ""
		if !known {
			note = " (region not in the price table: highest listed price used)"
		}
		e.Lines = append(e.Lines, fmt.Sprintf("%s: %d tasks × %.4g vCPU × %.0fs = %.0f vCPU-s at $%.5f/vCPU-h; %.0f GB-s at $%.6f/GB-h → $%.2f%s",
			r, n, vcpu, billed, vs, p.VCPUHour, gs, p.GBHour, usd, note))
	}
	e.Lines = append(e.Lines, fmt.Sprintf("total: %d tasks, %.0f vCPU-s, %.0f GB-s, about $%.2f (prices: %s)", e.Tasks, e.VCPUSeconds, e.GBSeconds, e.USD, fargatePriceSource))
	return e
}

// String is the estimate, one line per region and a total.
func (e Estimate) String() string { return strings.Join(e.Lines, "\n") }
