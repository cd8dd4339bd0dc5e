package aws

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// listTasksPage is ListTasks' maximum page size ("maxResults … between 1 and
// 100", Amazon ECS API Reference, ListTasks).
const listTasksPage = 100

// Cleaner stops leftover loadgate tasks in one region's cluster, so no task is
// ever orphaned by a crashed coordinator.
type Cleaner struct {
	API     ECSAPI
	Cluster string
	Pacing  Pacing
	Now     func() time.Time
}

// StopRun stops every task of run runID that is still running (found by
// startedBy, which loadgate sets to the run ID). It returns how many it stopped.
func (c *Cleaner) StopRun(ctx context.Context, runID string) (int, error) {
	arns, err := c.list(ctx, runID)
	if err != nil {
		return 0, err
	}
	return c.stop(ctx, arns, "cleanup of run "+runID)
}

// StopOlder stops running loadgate tasks (tagged TagRunID) created more than
// age ago, whatever their run. It returns how many it stopped.
func (c *Cleaner) StopOlder(ctx context.Context, age time.Duration) (int, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	arns, err := c.list(ctx, "")
	if err != nil {
		return 0, err
	}
	p := c.Pacing.withDefaults()
	read := newPacer(p.ReadPerSecond, p.ReadPerSecond)
	var old []string
	for len(arns) > 0 {
		n := min(len(arns), maxTasksPerDescribe)
		if err := read.Wait(ctx, 1); err != nil {
			return 0, err
		}
		out, err := c.API.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(c.Cluster), Tasks: arns[:n],
			Include: []types.TaskField{types.TaskFieldTags}})
		if err != nil {
			return 0, fmt.Errorf("DescribeTasks: %w", err)
		}
		for _, t := range out.Tasks {
			if !hasTag(t.Tags, TagRunID) || t.CreatedAt == nil {
				continue
			}
			if now().Sub(*t.CreatedAt) > age {
				old = append(old, aws.ToString(t.TaskArn))
			}
		}
		arns = arns[n:]
	}
	return c.stop(ctx, old, fmt.Sprintf("cleanup of loadgate tasks older than %s", age))
}

func hasTag(tags []types.Tag, key string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return true
		}
	}
	return false
}

func (c *Cleaner) list(ctx context.Context, startedBy string) ([]string, error) {
	p := c.Pacing.withDefaults()
	read := newPacer(p.ReadPerSecond, p.ReadPerSecond)
	in := &ecs.ListTasksInput{Cluster: aws.String(c.Cluster), DesiredStatus: types.DesiredStatusRunning, MaxResults: aws.Int32(listTasksPage)}
	if startedBy != "" {
		in.StartedBy = aws.String(startedBy)
	}
	var arns []string
	for {
		if err := read.Wait(ctx, 1); err != nil {
			return nil, err
		}
		out, err := c.API.ListTasks(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ListTasks: %w", err)
		}
		arns = append(arns, out.TaskArns...)
		if aws.ToString(out.NextToken) == "" {
			return arns, nil
		}
		in.NextToken = out.NextToken
	}
}

func (c *Cleaner) stop(ctx context.Context, arns []string, reason string) (int, error) {
	p := c.Pacing.withDefaults()
	stop := newPacer(p.StopPerSecond, p.StopPerSecond)
	var errs []error
	n := 0
	for _, arn := range arns {
		if err := stop.Wait(ctx, 1); err != nil {
			return n, err
		}
		if _, err := c.API.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(c.Cluster), Task: aws.String(arn),
			Reason: aws.String(truncate("loadgate: "+reason, stopReasonMax))}); err != nil {
			errs = append(errs, fmt.Errorf("StopTask %s: %w", arn, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// NewCleaner returns a Cleaner for cluster in region.
func NewCleaner(ctx context.Context, region, cluster string, env Env) (*Cleaner, error) {
	api, err := env.ECS(ctx, region)
	if err != nil {
		return nil, err
	}
	return &Cleaner{API: api, Cluster: cluster}, nil
}
