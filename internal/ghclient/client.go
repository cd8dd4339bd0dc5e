// Package ghclient reports a verdict to GitHub: one sticky pull-request comment
// per plan, a check run with annotations (or a commit status when check runs
// are not allowed), an issue for nightly regressions and a pull request that
// updates a committed baseline. It is the only package that imports go-github.
//
// A GitHub failure never changes the verdict: callers get typed errors and
// decide; IsPermission tells the "token may not do this" cases (fork pull
// requests, read-only tokens) apart from outages.
//
// Writes cannot duplicate: a POST that got a 5xx or a broken connection may
// still have landed on GitHub, so before sending it again the client looks for
// it (the comment's marker, the check run's or issue's one-off key). Rate
// limits are remembered per token for the whole process: once GitHub says the
// token is limited until a reset beyond MaxRetryWait, later calls fail at once
// without sending anything.
package ghclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// Retry policy. GitHub asks clients to wait at least one minute after a
// secondary rate limit without Retry-After
// (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately).
const (
	defaultAttempts     = 5
	defaultBackoff      = time.Second
	secondaryLimitWait  = time.Minute
	defaultMaxRetryWait = 2 * time.Minute
)

// Options configure a Client.
type Options struct {
	// Token authenticates every request (GITHUB_TOKEN or a PAT).
	Token string
	// APIURL is GITHUB_API_URL: empty or https://api.github.com for github.com,
	// https://HOST/api/v3 for GitHub Enterprise Server, or any base URL (tests).
	APIURL string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Sleep waits d or until ctx ends; tests inject a fake.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for rate-limit reset times.
	Now func() time.Time
	// Attempts is the most tries per call (default 5).
	Attempts int
	// Backoff is the first wait after a 5xx or network error; it doubles.
	Backoff time.Duration
	// MaxRetryWait bounds one wait: a rate limit resetting later than this is
	// returned as an error rather than stalling the job.
	MaxRetryWait time.Duration
	// Logf, when set, is told about each retry.
	Logf func(format string, args ...any)
}

// Client talks to one GitHub (github.com or an Enterprise Server).
type Client struct {
	opts    Options
	baseURL *url.URL
	ghes    bool
	limits  *limiter
}

// limiter remembers until when a token may not call GitHub. One per API URL
// and token in the process, shared by every Client and call: GitHub warns
// that integrations which keep calling while limited can be banned
// (docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api).
type limiter struct {
	mu     sync.Mutex
	until  time.Time
	reason string
}

var limiters sync.Map // API URL + "\x00" + token → *limiter

func limiterFor(apiURL, token string) *limiter {
	l, _ := limiters.LoadOrStore(apiURL+"\x00"+token, &limiter{})
	return l.(*limiter)
}

// block records that calls must wait until t (a later limit wins).
func (l *limiter) block(t time.Time, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.until) {
		l.until, l.reason = t, reason
	}
}

func (l *limiter) get() (time.Time, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until, l.reason
}

// RateLimitedError is a call that was not sent: the token is rate limited
// until Until, later than the client may wait.
type RateLimitedError struct {
	Until  time.Time
	Reason string
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited until %s (%s): not sent", e.Until.UTC().Format(time.RFC3339), e.Reason)
}

// limitTransport learns limits from response headers, including the last
// request a primary limit allows (X-RateLimit-Remaining: 0 on a success).
type limitTransport struct {
	base   http.RoundTripper
	limits *limiter
	now    func() time.Time
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	h := resp.Header
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, perr := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); perr == nil {
			t.limits.block(time.Unix(reset, 0), "primary rate limit")
		}
	}
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests {
		if secs, perr := strconv.Atoi(h.Get("Retry-After")); perr == nil && secs > 0 {
			t.limits.block(t.now().Add(time.Duration(secs)*time.Second), "secondary rate limit")
		}
	}
	return resp, nil
}

// Repo names a repository.
type Repo struct{ Owner, Name string }

// ParseRepo splits "owner/name".
func ParseRepo(s string) (Repo, error) {
	o, n, ok := strings.Cut(s, "/")
	if !ok || o == "" || n == "" || strings.Contains(n, "/") {
		return Repo{}, fmt.Errorf("repository %q: want owner/name", s)
	}
	return Repo{o, n}, nil
}

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Attempts <= 0 {
		opts.Attempts = defaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = defaultBackoff
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = defaultMaxRetryWait
	}
	c := &Client{opts: opts, limits: limiterFor(opts.APIURL, opts.Token)}
	hc := *opts.HTTPClient
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &limitTransport{base: base, limits: c.limits, now: opts.Now}
	c.opts.HTTPClient = &hc
	if opts.APIURL != "" {
		u, err := url.Parse(strings.TrimSuffix(opts.APIURL, "/") + "/")
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("GitHub API URL %q: not an absolute URL", opts.APIURL)
		}
		if u.Host != "api.github.com" {
			c.baseURL = u
			c.ghes = strings.HasSuffix(u.Path, "/api/v3/")
		}
	}
	return c, nil
}

// client builds a go-github client. A fresh one per attempt: go-github
// remembers rate limits and refuses calls before their reset on its own clock,
// while the retry loop below already waits (on an injectable clock).
func (c *Client) client() *gh.Client {
	g := gh.NewClient(c.opts.HTTPClient)
	if c.opts.Token != "" {
		g = g.WithAuthToken(c.opts.Token)
	}
	if c.baseURL != nil {
		if c.ghes {
			// Enterprise Server: uploads live under /api/uploads/.
			up := *c.baseURL
			up.Path = strings.TrimSuffix(up.Path, "v3/") + "uploads/"
			if e, err := g.WithEnterpriseURLs(c.baseURL.String(), up.String()); err == nil {
				return e
			}
		}
		b := *c.baseURL
		g.BaseURL = &b
	}
	return g
}

// StatusCode returns the HTTP status of a GitHub error, or 0.
func StatusCode(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) && ab.Response != nil {
		return ab.Response.StatusCode
	}
	return 0
}

// IsPermission reports whether err means the token may not do this (403 that
// is not a rate limit, or 404: GitHub answers 404 for resources a token cannot
// see). Fork pull requests and read-only tokens end here; it is not a failure
// of the gate.
func IsPermission(err error) bool {
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return false
	}
	return er.Response.StatusCode == http.StatusForbidden || er.Response.StatusCode == http.StatusNotFound
}

// do runs call with retries on 5xx, network errors and rate limits. A token
// known to be limited waits for the reset first, or, when that is beyond
// MaxRetryWait, fails without sending.
func (c *Client) do(ctx context.Context, what string, call func(g *gh.Client) error) error {
	if until, reason := c.limits.get(); until.After(c.opts.Now()) {
		wait := until.Sub(c.opts.Now())
		if wait > c.opts.MaxRetryWait {
			return fmt.Errorf("%s: %w", what, &RateLimitedError{Until: until, Reason: reason})
		}
		if c.opts.Logf != nil {
			c.opts.Logf("GitHub %s: %s; waiting %s", what, reason, wait.Round(time.Second))
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	backoff := c.opts.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		err = call(c.client())
		if err == nil {
			return nil
		}
		wait, retry := c.retryAfter(err, backoff)
		if reason := rateLimitReason(err); reason != "" {
			c.limits.block(c.opts.Now().Add(wait), reason)
		}
		if !retry || attempt >= c.opts.Attempts {
			break
		}
		if wait > c.opts.MaxRetryWait {
			err = fmt.Errorf("rate limited for %s (longer than %s): %w", wait.Round(time.Second), c.opts.MaxRetryWait, err)
			break
		}
		if c.opts.Logf != nil {
			c.opts.Logf("GitHub %s: %v; retrying in %s (attempt %d of %d)", what, err, wait, attempt+1, c.opts.Attempts)
		}
		if serr := c.opts.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s: %w", what, errors.Join(err, serr))
		}
		backoff *= 2
	}
	return fmt.Errorf("%s: %w", what, err)
}

// doWrite is do for a write GitHub may have applied although the answer was
// a 5xx or the connection broke: before sending it again, landed looks for
// the previous attempt's result and, when it finds it, the write is done.
func (c *Client) doWrite(ctx context.Context, what string, landed func(g *gh.Client) (bool, error), call func(g *gh.Client) error) error {
	uncertain := false
	return c.do(ctx, what, func(g *gh.Client) error {
		if uncertain {
			found, err := landed(g)
			if err != nil {
				return err
			}
			if found {
				return nil
			}
		}
		err := call(g)
		uncertain = mayHaveLanded(err)
		return err
	})
}

// mayHaveLanded reports whether a failed write may still have been applied:
// GitHub answered 5xx, or no answer came. A 4xx (rate limits included) was
// refused before any effect.
func mayHaveLanded(err error) bool {
	if err == nil {
		return false
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		return er.Response != nil && er.Response.StatusCode >= 500
	}
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	var ue *url.Error
	return errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

// rateLimitReason names the rate limit err reports, or "".
func rateLimitReason(err error) string {
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return "primary rate limit"
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		return "secondary rate limit"
	}
	return ""
}

// retryAfter says whether err is worth another try and how long to wait.
func (c *Client) retryAfter(err error, backoff time.Duration) (time.Duration, bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		// Primary limit: wait for X-RateLimit-Reset.
		w := rl.Rate.Reset.Time.Sub(c.opts.Now())
		if w < time.Second {
			w = time.Second
		}
		return w, true
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		if ab.RetryAfter != nil && *ab.RetryAfter > 0 {
			return *ab.RetryAfter, true
		}
		return secondaryLimitWait, true
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		if er.Response != nil && er.Response.StatusCode >= 500 {
			return backoff, true
		}
		return 0, false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return backoff, true // connection reset, timeout: transient
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
