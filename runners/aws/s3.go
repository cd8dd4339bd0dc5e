package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/loadgate/loadgate/runners/distributed"
)

// s3DeleteBatch is DeleteObjects' limit ("up to 1,000 keys", S3 API Reference,
// DeleteObjects).
const s3DeleteBatch = 1000

// S3Store is a distributed.Store in an S3 bucket under a prefix:
// s3://bucket/prefix/<key>.
type S3Store struct {
	Client *s3.Client
	Bucket string
	Prefix string // "" or ending in "/"
}

var _ distributed.Store = (*S3Store)(nil)

// ParseS3URL splits "s3://bucket/some/prefix" into bucket and "some/prefix/".
func ParseS3URL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("store %q: want s3://bucket[/prefix]", s)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// NewS3Store opens s3://bucket/prefix with the configuration of region.
func NewS3Store(ctx context.Context, storeURL, region string, env Env) (*S3Store, error) {
	bucket, prefix, err := ParseS3URL(storeURL)
	if err != nil {
		return nil, err
	}
	c, err := env.S3(ctx, region)
	if err != nil {
		return nil, err
	}
	return &S3Store{Client: c, Bucket: bucket, Prefix: prefix}, nil
}

// URL is the store's s3:// URL (what workers get as --store).
func (s *S3Store) URL() string {
	return "s3://" + s.Bucket + "/" + strings.TrimSuffix(s.Prefix, "/")
}

// Put uploads one object (S3 PUTs are atomic: readers see the old or new value).
func (s *S3Store) Put(ctx context.Context, key string, data []byte) error {
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(s.Prefix + key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("s3 put %s: %w", s.Prefix+key, err)
	}
	return nil
}

// Get downloads one object; a missing key wraps distributed.ErrNotFound.
func (s *S3Store) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Prefix + key)})
	if err != nil {
		var nk *types.NoSuchKey
		var ae smithy.APIError
		if errors.As(err, &nk) || errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
			return nil, fmt.Errorf("s3 get %s: %w", s.Prefix+key, distributed.ErrNotFound)
		}
		// S3 answers 403 rather than 404 for a missing key unless the caller
		// may list it, and whether a ListBucket grant limited by s3:prefix
		// (deploy/aws) counts is S3's decision. Listing the exact key tells
		// "not written yet" from "forbidden".
		if errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied" {
			if exists, lerr := s.exists(ctx, key); lerr == nil && !exists {
				return nil, fmt.Errorf("s3 get %s: %w", s.Prefix+key, distributed.ErrNotFound)
			}
		}
		return nil, fmt.Errorf("s3 get %s: %w", s.Prefix+key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", s.Prefix+key, err)
	}
	return b, nil
}

// exists lists key itself (one page of at most one key).
func (s *S3Store) exists(ctx context.Context, key string) (bool, error) {
	out, err := s.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix + key), MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, err
	}
	return len(out.Contents) > 0 && aws.ToString(out.Contents[0].Key) == s.Prefix+key, nil
}

// List pages through ListObjectsV2 (1,000 keys per page).
func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 list %s: %w", s.Prefix+prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.Prefix))
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes every object under prefix, in batches of s3DeleteBatch.
func (s *S3Store) Delete(ctx context.Context, prefix string) error {
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), s3DeleteBatch)
		ids := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(s.Prefix + k)}
		}
		out, err := s.Client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.Bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return fmt.Errorf("s3 delete %s: %w", s.Prefix+prefix, err)
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("s3 delete %s: %d objects failed, first: %s", s.Prefix+prefix, len(out.Errors), aws.ToString(out.Errors[0].Message))
		}
		keys = keys[n:]
	}
	return nil
}
