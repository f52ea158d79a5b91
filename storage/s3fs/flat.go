package s3fs

import (
	"context"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
)

// ListFlat lists the tree below collection name in one flat listing
// (every key below its prefix, without a delimiter, a page of a thousand
// keys per request, whatever the tree's shape) and calls fn with each run
// of members of one collection, in key order: depth first, a collection
// before its members, since every key below a prefix sorts after the
// prefix and together. Collections are synthesised from the keys: one
// exists when its marker or a key below it does (no phantoms), and is
// described as a delimiter listing describes a common prefix (no time),
// so that the listing equals what Readdir gives collection by collection.
// Keys with an empty, "." or ".." segment are left out from that segment
// on, as Readdir leaves them out.
//
// S3 sorts keys by their bytes, so in a collection "a-b" comes before
// "a/" and a collection "a" after a file "a.txt".
func (f *Fs) ListFlat(ctx context.Context, name string, fn func(dir string, infos []os.FileInfo) error) error {
	name = path.Clean("/" + name)
	dk := f.dirKey(name)
	var open []string // the collections of the current branch, relative, outermost first
	var run []os.FileInfo
	runDir := ""
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		infos := run
		run = nil
		return fn(runDir, infos)
	}
	add := func(parent string, fi os.FileInfo) error {
		dir := name
		if parent != "" {
			dir = path.Join(name, parent)
		}
		if dir != runDir {
			if err := flush(); err != nil {
				return err
			}
			runDir = dir
		}
		run = append(run, fi)
		return nil
	}
	token := blob.FirstPageToken
	for len(token) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.cfg.Latency > 0 {
			time.Sleep(f.cfg.Latency)
		}
		lctx, cancel := context.WithTimeout(ctx, opTimeout)
		objs, next, err := f.b.ListPage(lctx, token, listPage, &blob.ListOptions{Prefix: dk})
		cancel()
		if err != nil {
			return pathErr("readdir", name, err)
		}
		for _, o := range objs {
			rel := strings.TrimPrefix(o.Key, dk)
			marker := strings.HasSuffix(rel, "/")
			segs := strings.Split(strings.TrimSuffix(rel, "/"), "/")
			dirs := len(segs) - 1 // collections on the way
			if marker {
				dirs = len(segs)
			}
			for i, s := range segs {
				if s == "" || s == "." || s == ".." {
					// Unusable from here on; the collections before it
					// still exist.
					dirs, marker = min(dirs, i), true
					break
				}
			}
			// Leave the collections of the previous key that are not on
			// this key's way, then enter the new ones.
			common := 0
			for common < len(open) && common < dirs && open[common] == strings.Join(segs[:common+1], "/") {
				common++
			}
			open = open[:common]
			for j := common; j < dirs; j++ {
				if err := add(strings.Join(segs[:j], "/"), &info{name: segs[j], dir: true}); err != nil {
					return err
				}
				open = append(open, strings.Join(segs[:j+1], "/"))
			}
			if marker {
				continue
			}
			var obj types.Object
			etag := ""
			if o.As(&obj) && obj.ETag != nil {
				etag = *obj.ETag
			}
			fi := &info{name: segs[len(segs)-1], size: o.Size, mod: modTime(o.ModTime, etag)}
			if err := add(strings.Join(segs[:len(segs)-1], "/"), fi); err != nil {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
		token = next
	}
	return nil
}
