// Package s3fs presents a bucket of an S3-compatible object store
// (through gocloud.dev/blob's s3blob driver) as an afero.Fs with real
// directory semantics, and runs the tree operations WebDAV needs (copy,
// move, delete of a collection) as parallel server-side requests.
//
// Invariants:
//   - A collection is a common prefix ("dir/x" makes "dir" one) or a
//     marker object whose key ends in "/" (Mkdir writes it). A name is
//     never a file and a collection at once: creating one where the other
//     is fails.
//   - No phantom collections: "/rep" is a collection only if some key
//     starts with "rep/", never because a key starts with "rep".
//   - Content is read with ranged GETs and written with one streamed
//     (multipart) upload straight to the final key, which becomes visible
//     only when the upload is committed: an aborted write leaves the old
//     object untouched.
//   - Credentials come from the AWS SDK's usual sources (AWS_* variables,
//     shared configuration files), never from the storage URL.
package s3fs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// DefaultParallel is how many requests a tree operation keeps in flight
// by default (see Config.Parallel). Measured with BenchmarkTreeParallel
// on versitygw over loopback (2 cores, busy): a COPY of 2,000 objects took
// 5.3 s one at a time, 3.4 s with 4, 3.2 s with 8, 3.4 s with 16, 4.1 s
// with 32 and 6.2 s with 64, the store's CPU being the limit there. Over
// a network each request waits longer and more in flight pay more; 16
// stays within a few percent of the best on loopback.
const DefaultParallel = 16

// Config says which bucket to open and how.
type Config struct {
	Bucket string
	// Prefix, when not empty, is the key prefix the tree lives under
	// ("photos/"); it always ends in "/".
	Prefix string
	// Endpoint is the S3 server's URL (http://127.0.0.1:7070); empty
	// means AWS.
	Endpoint string
	// Region is the signing region; empty takes the SDK's default.
	Region string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET rather than
	// BUCKET.ENDPOINT, as most servers other than AWS need.
	PathStyle bool
	// Parallel bounds the requests one tree operation keeps in flight.
	Parallel int
	// Latency delays every request (for tests and demos of slow storage).
	Latency time.Duration
}

// ParseURL reads s3://BUCKET[/PREFIX]?endpoint=URL&region=R&use_path_style=true&parallel=N&latency=D.
// User information in the URL is refused: credentials come from the
// environment.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("s3: bad URL: %w", err)
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("s3: URL scheme is %q, not s3", u.Scheme)
	}
	if u.User != nil {
		return Config{}, errors.New("s3: the URL must not carry credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) instead")
	}
	if u.Host == "" {
		return Config{}, errors.New("s3: the URL names no bucket: use s3://BUCKET[/PREFIX]")
	}
	cfg := Config{Bucket: u.Host, Parallel: DefaultParallel}
	if p := strings.Trim(u.Path, "/"); p != "" {
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return Config{}, fmt.Errorf("s3: prefix %q has an empty, . or .. segment", p)
			}
		}
		cfg.Prefix = p + "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("s3: bad options: %w", err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "endpoint":
			eu, err := url.Parse(v)
			if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
				return Config{}, fmt.Errorf("s3: endpoint=%q is not an http:// or https:// URL", v)
			}
			if eu.User != nil {
				return Config{}, errors.New("s3: the endpoint must not carry credentials")
			}
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "use_path_style":
			if cfg.PathStyle, err = strconv.ParseBool(v); err != nil {
				return Config{}, fmt.Errorf("s3: use_path_style=%q is not true or false", v)
			}
		case "parallel":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return Config{}, fmt.Errorf("s3: parallel=%q is not a number from 1 to 1000", v)
			}
			cfg.Parallel = n
		case "latency":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return Config{}, fmt.Errorf("s3: latency=%q is not a non-negative duration such as 5ms", v)
			}
			cfg.Latency = d
		default:
			return Config{}, fmt.Errorf("s3: unknown option %q (known: endpoint, region, use_path_style, parallel, latency)", key)
		}
	}
	return cfg, nil
}

// Describe says what cfg opens, for logs: never a credential.
func (cfg Config) Describe() string {
	s := "S3 bucket " + cfg.Bucket
	if cfg.Prefix != "" {
		s += " prefix " + cfg.Prefix
	}
	if cfg.Endpoint != "" {
		s += " at " + cfg.Endpoint
	}
	if cfg.Region != "" {
		s += " (region " + cfg.Region + ")"
	}
	return s + fmt.Sprintf(", %d parallel requests", cfg.Parallel)
}

// probeTimeout bounds the request Open makes to check the bucket.
const probeTimeout = 15 * time.Second

// Open connects to the bucket and checks, with one listing request, that
// it exists and accepts the credentials: a bucket that is missing,
// unreachable or refuses them is an error here, not at the first client
// request.
func Open(ctx context.Context, cfg Config) (*Fs, error) {
	if cfg.Parallel < 1 {
		cfg.Parallel = DefaultParallel
	}
	opts := []func(*config.LoadOptions) error{
		// Servers other than AWS reject or log the checksums the SDK now
		// adds by default.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	// Tree operations keep Parallel requests in flight: the HTTP client
	// must keep as many connections.
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        cfg.Parallel * 2,
		MaxIdleConnsPerHost: cfg.Parallel * 2,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// A server that accepts but never answers headers is down.
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	awsCfg.HTTPClient = hc
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.RetryMaxAttempts = 3
	})
	b, err := s3blob.OpenBucket(ctx, client, cfg.Bucket, &s3blob.Options{RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	fs := &Fs{cfg: cfg, b: b, client: client}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if _, _, err := b.ListPage(pctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: cfg.Prefix}); err != nil {
		b.Close()
		return nil, fmt.Errorf("s3: %s: %w", cfg.Describe(), explain(err))
	}
	return fs, nil
}

// Remote names the tree cfg opens, stably and without credentials:
// s3://BUCKET/PREFIX followed by the endpoint.
func (cfg Config) Remote() string {
	r := "s3://" + cfg.Bucket + "/" + strings.TrimSuffix(cfg.Prefix, "/")
	if cfg.Endpoint != "" {
		r += " at " + cfg.Endpoint
	}
	return r
}
