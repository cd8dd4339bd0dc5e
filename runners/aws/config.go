// Package aws runs distributed loadgate workers on AWS: an S3 Store and an ECS
// Fargate Launcher for runners/distributed, cost estimates, and cleanup of
// leftover tasks. It is the only loadgate package that imports aws-sdk-go-v2.
//
// Credentials and endpoints come from the SDK's default chain
// (config.LoadDefaultConfig): environment, shared files, web identity (OIDC in
// GitHub Actions), container and instance roles. The SDK reads the process
// environment itself; Env.Getenv additionally applies the standard variables
// (AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
// AWS_EC2_METADATA_DISABLED,
// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL_S3) from an injected
// environment, so in-process callers and tests behave like a process started
// with that environment.
package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// Env is how SDK clients are configured.
type Env struct {
	// Getenv overrides the process environment for the standard AWS_*
	// variables listed in the package doc (nil: the SDK's own view only).
	Getenv func(string) string
	// Load replaces the default configuration loading entirely.
	Load ConfigLoader
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// Config loads the SDK configuration for region.
func (e Env) Config(ctx context.Context, region string) (aws.Config, error) {
	if e.Load != nil {
		return e.Load(ctx, region)
	}
	if region == "" {
		region = e.getenv("AWS_REGION")
	}
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
	if id, secret := e.getenv("AWS_ACCESS_KEY_ID"), e.getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, e.getenv("AWS_SESSION_TOKEN"))))
	}
	if strings.EqualFold(e.getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if u := e.getenv("AWS_ENDPOINT_URL"); u != "" {
		opts = append(opts, config.WithBaseEndpoint(u))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config (%s): %w", region, err)
	}
	return cfg, nil
}

// S3 returns an S3 client for region.
func (e Env) S3(ctx context.Context, region string) (*s3.Client, error) {
	cfg, err := e.Config(ctx, region)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if u := e.getenv("AWS_ENDPOINT_URL_S3"); u != "" {
			o.BaseEndpoint = aws.String(u)
		}
		// S3-compatible endpoints (emulators, MinIO) rarely serve
		// virtual-hosted buckets.
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	}), nil
}

// ECS returns an ECS client for region.
func (e Env) ECS(ctx context.Context, region string) (ECSAPI, error) {
	cfg, err := e.Config(ctx, region)
	if err != nil {
		return nil, err
	}
	return ecs.NewFromConfig(cfg, func(o *ecs.Options) {
		if u := e.getenv("AWS_ENDPOINT_URL_ECS"); u != "" {
			o.BaseEndpoint = aws.String(u)
		}
	}), nil
}
