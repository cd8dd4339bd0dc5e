// Package aws runs distributed loadgate workers on AWS: an S3 Store and an ECS
// Fargate Launcher for runners/distributed, cost estimates, and cleanup of
// leftover tasks. It is the only loadgate package that imports aws-sdk-go-v2.
//
// Credentials and endpoints come from the SDK's default chain
// (config.LoadDefaultConfig): environment, shared files, web identity (OIDC in
// GitHub Actions), container and instance roles. The SDK reads the process
// environment itself, so the standard AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL_S3
// overrides work unchanged; callers that need another configuration inject
// Options.LoadConfig.
package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

// ConfigLoader returns the SDK configuration for a region.
type ConfigLoader func(ctx context.Context, region string) (aws.Config, error)

// Retry settings. ECS answers ThrottlingException when a token bucket is
// empty; the SDK's standard retryer backs off exponentially with jitter. Its
// client-side retry quota (500 tokens, 5 per retry) would turn a burst of
// throttles into fast failures, so it is disabled: pacing (pacer.go) keeps us
// under the quotas, and the backoff absorbs the rest.
const (
	retryMaxAttempts = 10
	retryMaxBackoff  = 20 * time.Second
)

// DefaultConfig loads the SDK default configuration for region with loadgate's
// retry policy.
func DefaultConfig(ctx context.Context, region string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = retryMaxAttempts
				o.MaxBackoff = retryMaxBackoff
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config (%s): %w", region, err)
	}
	return cfg, nil
}
