package dav

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
)

// Perm is a set of permissions on resources.
type Perm uint8

// The permissions. Each method needs some of them (see Permissions).
const (
	// PermRead allows GET, HEAD, PROPFIND, and reading the source of a COPY
	// or MOVE.
	PermRead Perm = 1 << iota
	// PermCreate allows making new resources: PUT and LOCK of an unmapped
	// URL, MKCOL, and the new members of a COPY or MOVE destination.
	PermCreate
	// PermUpdate allows changing existing resources: PUT over a file,
	// PROPPATCH, LOCK and UNLOCK, and overwriting a COPY or MOVE
	// destination.
	PermUpdate
	// PermDelete allows DELETE, the source of a MOVE, and removing what a
	// COPY or MOVE destination replaces.
	PermDelete

	// PermNone allows nothing.
	PermNone Perm = 0
	// PermAll allows everything.
	PermAll = PermRead | PermCreate | PermUpdate | PermDelete
)

var permNames = []struct {
	name string
	perm Perm
}{{"read", PermRead}, {"create", PermCreate}, {"update", PermUpdate}, {"delete", PermDelete}}

// ParsePerm reads permissions written as words: any of read, create,
// update and delete, or all, or none. Words may also be separated by
// commas or spaces within one argument ("read, create").
func ParsePerm(words ...string) (Perm, error) {
	var p Perm
	n := 0
	for _, w := range words {
		for word := range strings.FieldsFuncSeq(w, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			n++
			switch word = strings.ToLower(word); word {
			case "all":
				p |= PermAll
			case "none":
			default:
				found := false
				for _, pn := range permNames {
					if pn.name == word {
						p |= pn.perm
						found = true
					}
				}
				if !found {
					return 0, fmt.Errorf("unknown permission %q: use read, create, update, delete, all or none", word)
				}
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no permission given: use read, create, update, delete, all or none")
	}
	return p, nil
}

// String lists the permissions in p, as ParsePerm reads them.
func (p Perm) String() string {
	switch p {
	case PermNone:
		return "none"
	case PermAll:
		return "all"
	}
	var words []string
	for _, pn := range permNames {
		if p&pn.perm != 0 {
			words = append(words, pn.name)
		}
	}
	return strings.Join(words, ",")
}

// Rule gives the resources matching Path their own permissions.
type Rule struct {
	// Path is an absolute path in the served tree ("/shared"), which the
	// rule covers with everything below it, or a pattern in path.Match
	// syntax ("/*/private", "/docs/*.pdf"), which covers each resource it
	// matches with everything below it. A pattern segment never matches
	// across a slash, and there is no "**".
	Path string
	// Perm replaces the default permissions where the rule applies.
	Perm Perm
}

// applies reports whether the rule covers name: name, or an ancestor of
// name, is the rule's path or matches its pattern.
func (r Rule) applies(name string) bool {
	if !isPattern(r.Path) {
		return name == r.Path || isBelow(name, r.Path)
	}
	for p := name; ; p = path.Dir(p) {
		if ok, _ := path.Match(r.Path, p); ok {
			return true
		}
		if p == "/" {
			return false
		}
	}
}

// mayApplyBelow reports whether the rule could cover a resource strictly
// below name without covering name itself.
func (r Rule) mayApplyBelow(name string) bool {
	if !isPattern(r.Path) {
		return isBelow(r.Path, name)
	}
	pat, segs := segments(r.Path), segments(name)
	if len(pat) <= len(segs) {
		return false
	}
	for i, s := range segs {
		if ok, _ := path.Match(pat[i], s); !ok {
			return false
		}
	}
	return true
}

func isPattern(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// segments splits a clean absolute path; "/" has none.
func segments(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// Permissions decides what the user of a Handler may do where.
type Permissions struct {
	// Default applies where no rule does.
	Default Perm
	// Rules refine Default for parts of the tree. Where several rules
	// apply, the last one listed wins, so general rules come first and
	// exceptions after them.
	Rules []Rule
}

// Check validates the rules' paths and cleans them (a trailing slash is
// dropped).
func (p *Permissions) Check() error {
	for i, r := range p.Rules {
		if !strings.HasPrefix(r.Path, "/") {
			return fmt.Errorf("rule path %q must start with /", r.Path)
		}
		if strings.Contains(r.Path, `\`) {
			return fmt.Errorf("rule path %q: backslashes are not allowed", r.Path)
		}
		if _, err := path.Match(r.Path, ""); err != nil {
			return fmt.Errorf("rule path %q: %w", r.Path, err)
		}
		for seg := range strings.SplitSeq(r.Path, "/") {
			if seg == "." || seg == ".." {
				return fmt.Errorf("rule path %q contains a %q segment", r.Path, seg)
			}
		}
		p.Rules[i].Path = path.Clean(r.Path)
	}
	return nil
}

// For returns the permissions on name, a clean absolute path.
func (p *Permissions) For(name string) Perm {
	if p == nil {
		return PermAll
	}
	perm := p.Default
	for _, r := range p.Rules {
		if r.applies(name) {
			perm = r.Perm
		}
	}
	return perm
}

// uniform reports whether everything below name has the permissions of
// name, so that a tree operation need not look at each member.
func (p *Permissions) uniform(name string) bool {
	if p == nil {
		return true
	}
	for _, r := range p.Rules {
		if !r.applies(name) && r.mayApplyBelow(name) {
			return false
		}
	}
	return true
}

// methodPerm is what a method needs on the request-URI before anything
// else is looked at; any one of the permissions is enough (PUT and LOCK
// need create or update, which depends on whether the resource exists
// and is checked again once that is known). Methods not listed need
// nothing beyond authentication: OPTIONS reveals nothing about the tree,
// and the rest are refused anyway.
var methodPerm = map[string]Perm{
	http.MethodGet: PermRead, http.MethodHead: PermRead, "PROPFIND": PermRead,
	http.MethodPut: PermCreate | PermUpdate, "LOCK": PermCreate | PermUpdate,
	"MKCOL": PermCreate, "PROPPATCH": PermUpdate, "UNLOCK": PermUpdate,
	http.MethodDelete: PermDelete, "COPY": PermRead, "MOVE": PermRead | PermDelete,
}

// errPermission marks refusals by Permissions, as opposed to other 403s.
var errPermission = errors.New("permission denied")

// forbidden is the answer to a request the user's permissions do not allow.
func forbidden(name string, need Perm) error {
	return &httpError{status: http.StatusForbidden, reason: fmt.Sprintf("%s: permission denied (needs %s)", name, need), err: errPermission}
}

// checkMethod refuses a request whose method the user may not use on name.
func (h *Handler) checkMethod(r *http.Request, name string) error {
	need, ok := methodPerm[r.Method]
	if !ok || h.perms == nil {
		return nil
	}
	have := h.perms.For(name)
	switch r.Method {
	case http.MethodPut, "LOCK":
		if have&need == 0 {
			return forbidden(r.URL.Path, need)
		}
	default:
		if have&need != need {
			return forbidden(r.URL.Path, need)
		}
	}
	return nil
}

// createOrUpdate is what writing a resource needs: update if it exists,
// create if not.
func createOrUpdate(exists bool) Perm {
	if exists {
		return PermUpdate
	}
	return PermCreate
}

// allow checks that the user has need on name.
func (h *Handler) allow(name string, need Perm) error {
	if h.perms.For(name)&need != need {
		return forbidden(h.prefix+name, need)
	}
	return nil
}

// allowTree checks that the user has rootNeed on dst and memberNeed on
// each resource of the tree at src, as it would be named under dst (the
// destination of a COPY or MOVE; src itself otherwise). Members are only
// visited when deep and a rule could give one of them other permissions
// than dst has. Refusing the whole operation up front, rather than
// skipping members, keeps a COPY from leaking a protected file into a
// readable place and a DELETE from half-happening.
func (h *Handler) allowTree(ctx context.Context, src, dst string, rootNeed, memberNeed Perm, deep bool) error {
	if err := h.allow(dst, rootNeed); err != nil {
		return err
	}
	if !deep || h.perms.uniform(dst) {
		if err := h.allow(dst, memberNeed); err != nil && deep {
			return err
		}
		return nil
	}
	return h.allowMembers(ctx, src, dst, memberNeed, 0)
}

// allowCopyMove checks the permissions of a COPY or MOVE: reading (and
// for MOVE deleting) the source tree, replacing an existing destination
// (update, and delete of what is below it), and creating the new tree.
func (h *Handler) allowCopyMove(ctx context.Context, src, dst string, deep, isMove bool, dstInfo os.FileInfo) error {
	if h.perms == nil {
		return nil
	}
	need := PermRead
	if isMove {
		need |= PermDelete
	}
	if err := h.allowTree(ctx, src, src, need, need, deep); err != nil {
		return err
	}
	rootNeed := PermCreate
	if dstInfo != nil {
		rootNeed = PermUpdate
		if dstInfo.IsDir() {
			if err := h.allowTree(ctx, dst, dst, PermUpdate|PermDelete, PermDelete, true); err != nil {
				return err
			}
		}
	}
	return h.allowTree(ctx, src, dst, rootNeed, PermCreate, deep)
}

func (h *Handler) allowMembers(ctx context.Context, src, dst string, need Perm, depth int) error {
	if depth > 1000 {
		return errorf(http.StatusForbidden, "%s: too deeply nested to check permissions", h.prefix+dst)
	}
	return h.fs.ListDir(ctx, src, func(infos []os.FileInfo) error {
		for _, fi := range infos {
			s, d := path.Join(src, fi.Name()), path.Join(dst, fi.Name())
			if err := h.allow(d, need); err != nil {
				return err
			}
			if fi.IsDir() && !h.perms.uniform(d) {
				if err := h.allowMembers(ctx, s, d, need, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// readable reports whether a member may be listed: PROPFIND and GET of a
// collection leave out what the user may not read.
func (h *Handler) readable(name string) bool {
	return h.perms == nil || h.perms.For(name)&PermRead != 0
}
