package state

import (
	"encoding/xml"
	"errors"
	"fmt"
	"path"
	"strings"
)

// errClosed is returned by every method of a closed Store.
var errClosed = errors.New("state: store is closed")

// checkPath rejects a path that is not absolute, slash-separated and
// clean; the subtree logic relies on that form.
func checkPath(p string) error {
	if p == "" || p[0] != '/' || path.Clean(p) != p {
		return fmt.Errorf("state: invalid path %q: want a clean absolute path such as /a/b", p)
	}
	return nil
}

// atOrBelow reports whether p is root or lies below it.
func atOrBelow(p, root string) bool {
	if root == "/" {
		return true
	}
	return p == root || strings.HasPrefix(p, root) && p[len(root)] == '/'
}

// below reports whether p lies strictly below root.
func below(p, root string) bool {
	return p != root && atOrBelow(p, root)
}

// rebase rewrites p, which is at or below src, to the same place under dst.
// src must not be the root.
func rebase(p, src, dst string) string {
	return dst + p[len(src):]
}

// checkTreeOp validates the operands of CopyTree and MoveTree. The trees
// must not overlap: copying or moving a tree into itself, or onto one of
// its ancestors, has no meaning that could be carried out path by path
// (and WebDAV forbids it).
func checkTreeOp(op, src, dst string) error {
	if err := checkPath(src); err != nil {
		return err
	}
	if err := checkPath(dst); err != nil {
		return err
	}
	if atOrBelow(dst, src) || atOrBelow(src, dst) {
		return fmt.Errorf("state: cannot %s %s to %s: one contains the other", op, src, dst)
	}
	return nil
}

// checkPatch validates the arguments of PatchProps before anything is
// changed.
func checkPatch(p string, set []Property, remove []xml.Name) error {
	if err := checkPath(p); err != nil {
		return err
	}
	setNames := make(map[xml.Name]bool, len(set))
	for _, prop := range set {
		if prop.Name.Local == "" {
			return fmt.Errorf("state: property {%s}%s of %s: empty local name", prop.Name.Space, prop.Name.Local, p)
		}
		if len(prop.XML) == 0 {
			return fmt.Errorf("state: property {%s}%s of %s: empty XML", prop.Name.Space, prop.Name.Local, p)
		}
		setNames[prop.Name] = true
	}
	for _, n := range remove {
		if n.Local == "" {
			return fmt.Errorf("state: removing {%s} from %s: empty local name", n.Space, p)
		}
		if setNames[n] {
			return fmt.Errorf("state: property {%s}%s of %s is both set and removed", n.Space, n.Local, p)
		}
	}
	return nil
}

// lessName orders property names by namespace, then local name.
func lessName(a, b xml.Name) int {
	if c := strings.Compare(a.Space, b.Space); c != 0 {
		return c
	}
	return strings.Compare(a.Local, b.Local)
}
