package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The S3 group serves a bucket of versitygw (a real S3 server, over a
// directory of the work directory, on loopback) with davd, and compares
// it, on the same server and objects, with rclone's command line (the
// reference: lsjson -R, copy, move, purge, cat, copyto; server-side
// copies, default --transfers/--checkers) and with rclone serve webdav
// over the same bucket (in the x/net column). The trees are written into
// versitygw's directory directly, which its posix backend serves as
// objects: far faster than uploading them, and the same for everyone.

const (
	s3Bucket  = "davbench"
	s3Access  = "davbenchkey"
	s3Secret  = "davbenchsecret0123456789"
	s3Remote  = "benchs3" // the rclone remote, defined by environment variables
	s3BigSize = 256 << 20
)

// s3Tree is 10,000 objects of 1 KiB in 100 prefixes; s3Flat is one
// prefix of 10,000 objects.
var (
	s3Tree = treeShape{name: "tree", label: "10k objects in 100 prefixes", dirs: 100, per: 100}
	s3Flat = treeShape{name: "flat", label: "one prefix of 10k objects", dirs: 0, per: 10000}
)

type treeShape struct {
	name, label string
	dirs, per   int
}

func (t treeShape) objects() int { return max(t.dirs, 1) * t.per }

// s3Env is a running versitygw and what the contenders need to reach it.
type s3Env struct {
	dir      string // versitygw's root: buckets are its subdirectories
	endpoint string
	proc     *exec.Cmd
}

// findVersitygw looks where .ci/run and go install put it.
func findVersitygw() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if c := os.Getenv("DAVD_CI_CACHE"); c != "" {
		dirs = append(dirs, filepath.Join(c, "bin"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"), filepath.Join(h, ".cache", "davd-ci", "bin"))
	}
	dirs = append(dirs, "/var/cache/davd-ci/bin")
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(d, "versitygw")); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(d, "versitygw"), nil
		}
	}
	return "", errors.New("versitygw is not installed (GOBIN=/var/cache/davd-ci/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
}

// startS3 starts versitygw with an empty bucket and sets the environment
// davd and rclone read their credentials and remote from.
func (b *bench) startS3(ctx context.Context) (*s3Env, error) {
	bin, err := findVersitygw()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("rclone"); err != nil {
		return nil, errors.New("rclone is not installed (apt-get install rclone)")
	}
	env := &s3Env{dir: filepath.Join(b.work, "s3")}
	if err := os.MkdirAll(env.dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env.endpoint = "http://" + addr
	cmd := exec.Command(bin, "--port", addr, "--access", s3Access, "--secret", s3Secret, "--region", "us-east-1", "--quiet", "posix", env.dir)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	env.proc = cmd
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			env.stop()
			return nil, fmt.Errorf("versitygw did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client := s3.New(s3.Options{BaseEndpoint: aws.String(env.endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3Access, s3Secret, "")})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
		env.stop()
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": s3Access, "AWS_SECRET_ACCESS_KEY": s3Secret, "AWS_EC2_METADATA_DISABLED": "true",
		"RCLONE_CONFIG_BENCHS3_TYPE": "s3", "RCLONE_CONFIG_BENCHS3_PROVIDER": "Other",
		"RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID": s3Access, "RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY": s3Secret,
		"RCLONE_CONFIG_BENCHS3_ENDPOINT": env.endpoint, "RCLONE_CONFIG_BENCHS3_REGION": "us-east-1",
		"RCLONE_CONFIG_BENCHS3_FORCE_PATH_STYLE": "true",
	} {
		os.Setenv(k, v)
	}
	// The endpoint is plain HTTP; rclone's AWS SDK refuses to start at
	// all with a custom CA bundle set.
	os.Unsetenv("AWS_CA_BUNDLE")
	return env, nil
}

func (e *s3Env) stop() {
	if e.proc != nil {
		e.proc.Process.Kill()
		e.proc.Wait()
		e.proc = nil
	}
}

// path is the directory or file of key in the bucket.
func (e *s3Env) path(key string) string {
	return filepath.Join(e.dir, s3Bucket, filepath.FromSlash(key))
}

// seed writes tree t under prefix, straight into versitygw's directory.
func (e *s3Env) seed(prefix string, t treeShape) error {
	content := fileContent(1024)
	top := e.path(prefix)
	for d := range max(t.dirs, 1) {
		dir := top
		if t.dirs > 0 {
			dir = filepath.Join(top, fmt.Sprintf("p%03d", d))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for i := range t.per {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("o%05d", i)), content, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// count counts the objects under prefix, on disk.
func (e *s3Env) count(prefix string) (int, error) {
	n := 0
	err := filepath.WalkDir(e.path(prefix), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	return n, err
}

func (e *s3Env) url() string {
	return "s3://" + s3Bucket + "?endpoint=" + e.endpoint + "&region=us-east-1&use_path_style=true"
}

// s3Rows runs the S3 group.
func (b *bench) s3Rows(ctx context.Context) []row {
	env, err := b.startS3(ctx)
	if err != nil {
		return []row{{op: "S3 rows", on: "versitygw", skipped: err.Error()}}
	}
	defer env.stop()
	for _, t := range []treeShape{s3Tree, s3Flat} {
		if err := env.seed(t.name, t); err != nil {
			return []row{{op: "S3 rows", on: "versitygw", err: err}}
		}
	}
	if err := writeFile(env.path("big.bin"), s3BigSize); err != nil {
		return []row{{op: "S3 rows", on: "versitygw", err: err}}
	}
	local := filepath.Join(b.work, "put-256m.bin")
	if err := writeFile(local, s3BigSize); err != nil {
		return []row{{op: "S3 rows", on: "versitygw", err: err}}
	}
	specs := []serverSpec{
		davdSpec("davd", b.davdBin, env.url(), "off", "--state", "sqlite://"+filepath.Join(b.work, "s3-state.db")),
		{label: "rclone serve webdav", argv: func(addr string) []string {
			return []string{"rclone", "serve", "webdav", s3Remote + ":" + s3Bucket, "--addr", addr}
		}, termStatus: true},
	}
	rc := func(args ...string) func(ctx context.Context) (sample, error) {
		return func(ctx context.Context) (sample, error) { return runCmd(ctx, "rclone", args...) }
	}
	remote := func(key string) string { return s3Remote + ":" + s3Bucket + "/" + key }
	var rows []row
	// davd and rclone serve webdav, alternating with the rclone command.
	pair := func(r row, run func(dc, sc *davClient) (davd, serve func(ctx context.Context) (sample, error)), ref func(ctx context.Context) (sample, error), prep func(ctx context.Context) error, check func(ctx context.Context, s sample) error) ([][]sample, row) {
		b.progress("%s on %s (S3)", r.op, r.on)
		var res [][]sample
		rss, err := b.withServers(ctx, specs, func(srvs []*server) error {
			dc, sc := newDavClient(srvs[0].addr), newDavClient(srvs[1].addr)
			defer dc.close()
			defer sc.close()
			d, s := run(dc, sc)
			var err error
			res, err = alternate(ctx, b.cfg.runs, []contender[sample]{
				{label: "davd", prep: prep, check: check, run: d},
				{label: r.refName, prep: prep, check: check, run: ref},
				{label: "rclone serve", prep: prep, check: check, run: s},
			}, showSample, b.progressLine)
			return err
		})
		r.err, r.davdRSS, r.xnetRSS = err, rss[0], rss[1]
		if err == nil {
			r.davd = secs(median(durations(res[0])))
			r.ref = secs(median(durations(res[1])))
			r.xnet = secs(median(durations(res[2])))
			if x, ok := ratioOf(r.davd, r.xnet); ok {
				r.notes = append(r.notes, fmt.Sprintf("davd/rclone serve webdav %s (target ≤ %s×)", fmtRatio(x), fmtFloat(serveTarget(r.op))))
			}
		}
		return res, r
	}
	objects := func(prefix string, want int) func(context.Context, sample) error {
		return func(context.Context, sample) error {
			n, err := env.count(prefix)
			if err == nil && n != want {
				err = fmt.Errorf("%s holds %d objects, want %d", prefix, n, want)
			}
			return err
		}
	}
	gone := func(prefix string) func(context.Context, sample) error {
		return func(context.Context, sample) error {
			if ok, err := exists(env.path(prefix)); err != nil || ok {
				return errors.Join(err, fmt.Errorf("%s still exists", prefix))
			}
			return nil
		}
	}
	reseed := func(prefix string, t treeShape) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return errors.Join(removeTree(ctx, env.path(prefix)), env.seed(prefix, t))
		}
	}

	// PROPFIND Depth ∞ of the tree against rclone lsjson -R.
	_, r := pair(row{op: "S3 PROPFIND Depth ∞, 3 props", on: s3Tree.label, refName: "rclone lsjson -R", target: target{ratioAtMost, 1.2}},
		func(dc, sc *davClient) (func(context.Context) (sample, error), func(context.Context) (sample, error)) {
			run := func(c *davClient) func(ctx context.Context) (sample, error) {
				return func(ctx context.Context) (sample, error) {
					return c.propfind(ctx, "/tree/", "infinity", threePropsBody)
				}
			}
			return run(dc), run(sc)
		}, rc("lsjson", "-R", remote("tree")), nil, nil)
	r.notes = append(r.notes, "S3 rows: the x/net columns hold rclone serve webdav over the same bucket")
	rows = append(rows, r)

	// PROPFIND Depth 1 of one large prefix against rclone lsjson.
	_, r = pair(row{op: "S3 PROPFIND Depth 1, 3 props", on: s3Flat.label, refName: "rclone lsjson", target: target{ratioAtMost, 1.2}},
		func(dc, sc *davClient) (func(context.Context) (sample, error), func(context.Context) (sample, error)) {
			run := func(c *davClient) func(ctx context.Context) (sample, error) {
				return func(ctx context.Context) (sample, error) { return c.propfind(ctx, "/flat/", "1", threePropsBody) }
			}
			return run(dc), run(sc)
		}, rc("lsjson", remote("flat")), nil, nil)
	rows = append(rows, r)

	// COPY of the tree to a new prefix against rclone copy (server-side).
	_, r = pair(row{op: "S3 COPY Depth ∞", on: s3Tree.label, refName: "rclone copy", target: target{ratioAtMost, 1}},
		func(dc, sc *davClient) (func(context.Context) (sample, error), func(context.Context) (sample, error)) {
			run := func(c *davClient) func(ctx context.Context) (sample, error) {
				return func(ctx context.Context) (sample, error) { return c.copyMove(ctx, "COPY", "/tree", "/copy") }
			}
			return run(dc), run(sc)
		}, rc("copy", remote("tree"), remote("copy")),
		func(ctx context.Context) error { return removeTree(ctx, env.path("copy")) },
		objects("copy", s3Tree.objects()))
	rows = append(rows, r)

	// MOVE of a tree against rclone move.
	_, r = pair(row{op: "S3 MOVE", on: s3Tree.label, refName: "rclone move", target: target{ratioAtMost, 1}},
		func(dc, sc *davClient) (func(context.Context) (sample, error), func(context.Context) (sample, error)) {
			run := func(c *davClient) func(ctx context.Context) (sample, error) {
				return func(ctx context.Context) (sample, error) { return c.copyMove(ctx, "MOVE", "/mv", "/moved") }
			}
			return run(dc), run(sc)
		}, rc("move", "--delete-empty-src-dirs", remote("mv"), remote("moved")),
		func(ctx context.Context) error {
			return errors.Join(removeTree(ctx, env.path("moved")), reseed("mv", s3Tree)(ctx))
		},
		func(ctx context.Context, s sample) error {
			return errors.Join(objects("moved", s3Tree.objects())(ctx, s), gone("mv")(ctx, s))
		})
	rows = append(rows, r)

	// DELETE of a tree against rclone purge.
	_, r = pair(row{op: "S3 DELETE", on: s3Tree.label, refName: "rclone purge", target: target{ratioAtMost, 1}},
		func(dc, sc *davClient) (func(context.Context) (sample, error), func(context.Context) (sample, error)) {
			run := func(c *davClient) func(ctx context.Context) (sample, error) {
				return func(ctx context.Context) (sample, error) { return c.delete(ctx, "/del") }
			}
			return run(dc), run(sc)
		}, rc("purge", remote("del")), reseed("del", s3Tree), gone("del"))
	rows = append(rows, r)

	// GET and PUT of 256 MiB against rclone cat and copyto: rates.
	res, r := pair(row{op: "S3 GET 256 MiB", on: "one object", refName: "rclone cat", target: target{ratioAtLeast, 0.9}},
		func(dc, sc *davClient) (func(context.Context) (sample, error), func(context.Context) (sample, error)) {
			run := func(c *davClient) func(ctx context.Context) (sample, error) {
				return func(ctx context.Context) (sample, error) { return c.get(ctx, "/big.bin") }
			}
			return run(dc), run(sc)
		}, rc("cat", remote("big.bin")), nil, nil)
	rows = append(rows, asRates(r, res, s3BigSize))
	res, r = pair(row{op: "S3 PUT 256 MiB", on: "one object", refName: "rclone copyto", target: target{ratioAtLeast, 0.9}},
		func(dc, sc *davClient) (func(context.Context) (sample, error), func(context.Context) (sample, error)) {
			run := func(c *davClient) func(ctx context.Context) (sample, error) {
				return func(ctx context.Context) (sample, error) { return c.put(ctx, "/put.bin", s3BigSize) }
			}
			return run(dc), run(sc)
		}, rc("copyto", local, remote("put.bin")), nil, nil)
	rows = append(rows, asRates(r, res, s3BigSize))
	rows = append(rows, rssRow("every S3 row", "versitygw", rows, func(r row) bool { return strings.HasPrefix(r.op, "S3 ") }, true))
	return rows
}

// asRates turns a row of times into one of transfer rates of size bytes.
func asRates(r row, res [][]sample, size int64) row {
	if r.err != nil || len(res) != 3 {
		return r
	}
	rateOf := func(ss []sample) value {
		var rs []float64
		for _, s := range ss {
			rs = append(rs, float64(size)/1e6/s.dur.Seconds())
		}
		return mbps(median(rs))
	}
	r.davd, r.ref, r.xnet = rateOf(res[0]), rateOf(res[1]), rateOf(res[2])
	r.notes = nil
	if x, ok := ratioOf(r.davd, r.xnet); ok {
		r.notes = append(r.notes, fmt.Sprintf("davd/rclone serve webdav %s", fmtRatio(x)))
	}
	return r
}

// serveTarget is the limit of davd against rclone serve webdav.
func serveTarget(op string) float64 {
	if strings.Contains(op, "PROPFIND") {
		return 0.5
	}
	return 0.3
}

func fmtFloat(x float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".")
}
