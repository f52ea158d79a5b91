package dav

import (
	"davd/storage/pathlock"

	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"davd/storage/state"
)

// nsWin32 is the namespace of the file attributes Windows sets through
// PROPPATCH when it saves a file.
const nsWin32 = "urn:schemas-microsoft-com:"

// patchOp is one set or remove of a PROPPATCH, in document order.
type patchOp struct {
	remove bool
	prop   state.Property // Name always; XML only for a set
	text   string         // the value's character data (for Win32 times)
}

// parsePropertyUpdate reads a DAV:propertyupdate body.
func parsePropertyUpdate(body []byte, root *xmlElement) ([]patchOp, error) {
	if root == nil || !root.is("propertyupdate") {
		return nil, badXML("PROPPATCH body must be a DAV:propertyupdate element")
	}
	var ops []patchOp
	for _, c := range root.children {
		remove := c.is("remove")
		if !remove && !c.is("set") {
			continue
		}
		prop := c.child("prop")
		if prop == nil {
			return nil, badXML("DAV:%s without DAV:prop", c.name.Local)
		}
		for _, p := range prop.children {
			op := patchOp{remove: remove, prop: state.Property{Name: p.name}, text: p.text.String()}
			if !remove {
				op.prop.XML = p.selfContained(body)
			}
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		return nil, badXML("DAV:propertyupdate names no property")
	}
	return ops, nil
}

// serveProppatch applies a PROPPATCH all-or-nothing (RFC 4918 §9.2): if
// any instruction cannot be carried out, none is, the failing properties
// are reported with their reason and the others with 424.
func (h *Handler) serveProppatch(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	if _, err := h.fs.Stat(ctx, name); err != nil {
		return storageError(r.URL.Path, err)
	}
	// The body is read before the path lock is taken: a slow client must
	// not hold it.
	body, root, err := readXMLBody(r)
	if err != nil {
		return err
	}
	release, err := h.claim(ctx, pathlock.Claim{Path: name})
	if err != nil {
		return err
	}
	defer release()
	fi, err := h.fs.Stat(ctx, name)
	if err != nil {
		return storageError(r.URL.Path, err)
	}
	if err := h.authorizeWrite(r, name, lockTarget{name: name}); err != nil {
		return err
	}
	ops, err := parsePropertyUpdate(body, root)
	if err != nil {
		return err
	}

	// Fold the instructions in order: the last one for a name wins.
	final := map[xml.Name]patchOp{}
	var order []xml.Name
	protected := map[xml.Name]bool{}
	for _, op := range ops {
		n := op.prop.Name
		if _, seen := final[n]; !seen {
			order = append(order, n)
		}
		final[n] = op
		if n.Space == nsDAV && liveProps[n.Local].protected {
			protected[n] = true
		}
	}

	status := map[xml.Name]int{}
	if len(protected) > 0 {
		for _, n := range order {
			status[n] = http.StatusFailedDependency
			if protected[n] {
				status[n] = http.StatusForbidden
			}
		}
	} else {
		var set []state.Property
		var remove []xml.Name
		for _, n := range order {
			if op := final[n]; op.remove {
				remove = append(remove, n)
			} else {
				set = append(set, op.prop)
			}
			status[n] = http.StatusOK
		}
		if err := h.checkDeadProps(ctx, r.URL.Path, name, set, remove); err != nil {
			return err
		}
		if err := h.state.PatchProps(ctx, name, set, remove); err != nil {
			return err
		}
		// Windows keeps a file's modification time in this property; the
		// file's own time must follow, or Explorer shows a wrong date.
		if op, ok := final[xml.Name{Space: nsWin32, Local: "Win32LastModifiedTime"}]; ok && !op.remove {
			if t, err := http.ParseTime(strings.TrimSpace(op.text)); err == nil {
				h.fs.Chtimes(ctx, name, time.Now(), t)
			}
		}
	}

	ms := startMultistatus(w, 0)
	b := append(ms.buf, "<D:response><D:href>"...)
	b = appendEscaped(b, h.hrefFor(name, fi.IsDir()))
	b = append(b, "</D:href>"...)
	for _, code := range []int{http.StatusOK, http.StatusForbidden, http.StatusFailedDependency} {
		any := false
		for _, n := range order {
			if status[n] != code {
				continue
			}
			if !any {
				b = append(b, "<D:propstat><D:prop>"...)
				any = true
			}
			b = appendEmpty(b, n)
		}
		if any {
			b = append(b, "</D:prop>"...)
			b = appendStatus(b, code)
			if code == http.StatusForbidden {
				b = append(b, "<D:error><D:cannot-modify-protected-property/></D:error>"...)
			}
			b = append(b, "</D:propstat>"...)
		}
	}
	ms.buf = append(b, "</D:response>"...)
	ms.flushResponse()
	return ms.close()
}
