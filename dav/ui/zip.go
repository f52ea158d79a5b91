package ui

import (
	"archive/zip"
	"compress/flate"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"davd/processing"
)

// serveZip answers GET zip?path=/x with the collection /x as a ZIP archive,
// written while the tree is walked: memory stays constant (one listing per
// level and a 32 KiB copy buffer), whatever the tree's size. Members are
// deflated at the fastest level; archive/zip adds ZIP64 records where
// sizes, offsets or the member count need them. Progress (members and
// bytes, current member) is counted in the request's processing.Progress,
// so that the operation is listed, and it can be cancelled by its user
// (see Registry.Cancel): the transfer is then cut, not ended cleanly.
//
// The archive is produced anew for every request, so it has no length,
// no ETag and no ranges.
func (u *UI) serveZip(w http.ResponseWriter, r *http.Request, tree Tree) error {
	root, err := queryPath(r)
	if err != nil {
		return err
	}
	fi, err := tree.Stat(r.Context(), root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return refusef(http.StatusConflict, "%s%s is not a collection; download it directly", u.prefix, root)
	}
	base := path.Base(root)
	if root == "/" {
		base = "files"
	}
	h := w.Header()
	setCommonHeaders(h)
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Security-Policy", jsonCSP)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base + ".zip"}))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	ctx, release := cancellable(r)
	defer release()
	progress := processing.FromContext(ctx)
	progress.AddResource(u.prefix + root)
	w.WriteHeader(http.StatusOK)
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	buf := make([]byte, 32<<10)
	err = walk(ctx, tree, root, func(name string, fi fs.FileInfo) error {
		rel := strings.TrimPrefix(name, strings.TrimSuffix(root, "/")+"/")
		hdr := &zip.FileHeader{Name: rel, Modified: fi.ModTime(), Method: zip.Deflate}
		if fi.IsDir() {
			hdr.Name += "/"
			hdr.Method = zip.Store
			_, err := zw.CreateHeader(hdr)
			progress.AddResource(u.prefix + name)
			return err
		}
		hdr.SetMode(0o644)
		out, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		f, err := tree.Open(ctx, name)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(out, &ctxReader{ctx: ctx, r: f, p: progress}, buf)
		progress.AddResource(u.prefix + name)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return ErrAborted
	}
	return nil
}

// ctxReader reads r until ctx ends, counting the bytes in p.
type ctxReader struct {
	ctx interface{ Err() error }
	r   io.Reader
	p   *processing.Progress
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(b)
	c.p.AddBytes(int64(n))
	return n, err
}
