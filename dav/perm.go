package dav

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	// destination. A Depth infinity LOCK of a collection needs it on
	// everything below the collection as well.
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

// Rule gives the resources it names, and everything below them, their own
// permissions. A rule names resources by exactly one of Path and Pattern.
// Names on both sides are compared in Unicode normalization form C, so a
// rule written "/café" covers the same name sent or stored decomposed
// (macOS clients send NFD).
type Rule struct {
	// Path is an absolute name in the served tree ("/shared", "/Team
	// [HR]"), taken literally: no character in it is special. The rule
	// covers that resource and everything below it.
	Path string
	// Pattern is an absolute pattern in path.Match syntax ("/*/private",
	// "/docs/*.pdf"); the rule covers each resource it matches and
	// everything below it. A pattern segment never matches across a slash,
	// there is no "**", and a backslash makes the next character literal.
	Pattern string
	// Perm replaces the default permissions where the rule applies.
	Perm Perm
}

// applies reports whether the rule covers name, a normalized clean path:
// name, or an ancestor of name, is the rule's path or matches its pattern.
func (r Rule) applies(name string) bool {
	if r.Pattern == "" {
		return name == r.Path || isBelow(name, r.Path)
	}
	for p := name; ; p = path.Dir(p) {
		if ok, _ := path.Match(r.Pattern, p); ok {
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
	if r.Pattern == "" {
		return isBelow(r.Path, name)
	}
	pat, segs := segments(r.Pattern), segments(name)
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

// segments splits a clean absolute path or pattern; "/" has none.
func segments(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// normalize puts a name into the form rules are compared in: Unicode
// normalization form C. A name already in it (all ASCII names are) is
// returned as it is, without allocating.
func normalize(name string) string { return norm.NFC.String(name) }

// Permissions decides what the user of a Handler may do where.
type Permissions struct {
	// Default applies where no rule does.
	Default Perm
	// Rules refine Default for parts of the tree. Where several rules
	// apply, the last one listed wins, so general rules come first and
	// exceptions after them.
	Rules []Rule
}

// Check validates the rules and puts them in the form they are compared
// in: a path or pattern is cleaned (a trailing slash is dropped) and
// normalized (NFC).
func (p *Permissions) Check() error {
	for i, r := range p.Rules {
		what, s := "rule path", r.Path
		switch {
		case r.Path != "" && r.Pattern != "":
			return fmt.Errorf("rule %q has both a path and a pattern: give one", r.Path)
		case r.Path == "" && r.Pattern == "":
			return errors.New("a rule needs a path or a pattern")
		case r.Pattern != "":
			what, s = "rule pattern", r.Pattern
		}
		if !strings.HasPrefix(s, "/") {
			return fmt.Errorf("%s %q must start with /", what, s)
		}
		if r.Pattern == "" && strings.Contains(s, `\`) {
			return fmt.Errorf("%s %q: backslashes are not allowed", what, s)
		}
		if r.Pattern != "" {
			if _, err := path.Match(s, ""); err != nil {
				return fmt.Errorf("%s %q: %w", what, s, err)
			}
			if strings.HasSuffix(s, `\`) || strings.Contains(s, `\/`) {
				return fmt.Errorf("%s %q: a backslash must escape a character other than /", what, s)
			}
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s %q is not valid UTF-8", what, s)
		}
		for seg := range strings.SplitSeq(s, "/") {
			if seg == "." || seg == ".." {
				return fmt.Errorf("%s %q contains a %q segment", what, s, seg)
			}
		}
		s = normalize(path.Clean(s))
		if r.Pattern != "" {
			p.Rules[i].Pattern = s
		} else {
			p.Rules[i].Path = s
		}
	}
	return nil
}

// For returns the permissions on name, a clean absolute path.
func (p *Permissions) For(name string) Perm {
	if p == nil {
		return PermAll
	}
	perm := p.Default
	if len(p.Rules) == 0 {
		return perm
	}
	name = normalize(name)
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
	if len(p.Rules) > 0 {
		name = normalize(name)
	}
	for _, r := range p.Rules {
		if !r.applies(name) && r.mayApplyBelow(name) {
			return false
		}
	}
	return true
}

// grantsBelow reports whether everything that is or may come to be
// strictly below name has need. A rule that covers name itself is judged
// there; a rule that may apply below it counts unless a later rule covers
// name, and with it everything below.
func (p *Permissions) grantsBelow(name string, need Perm) bool {
	if p == nil {
		return true
	}
	name = normalize(name)
	for i, r := range p.Rules {
		if r.Perm&need == need || r.applies(name) || !r.mayApplyBelow(name) {
			continue
		}
		if !slices.ContainsFunc(p.Rules[i+1:], func(later Rule) bool { return later.applies(name) }) {
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
// readable place and a DELETE from half-happening. A refusal names the
// member that caused it only if the user may read that member; otherwise
// it names dst.
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
	return h.allowMembers(ctx, src, dst, dst, memberNeed, 0)
}

// allowDestination refuses, before anything about dst is looked at, a
// COPY or MOVE onto a name the user may not read and could neither create
// nor update: whether such a name exists must not show in the answer (412
// for Overwrite F, 409 for a missing parent, or which of create and update
// it would need).
func (h *Handler) allowDestination(dst string) error {
	if h.perms == nil {
		return nil
	}
	if have := h.perms.For(dst); have&PermRead == 0 && have&(PermCreate|PermUpdate) == 0 {
		return &httpError{status: http.StatusForbidden, err: errPermission,
			reason: fmt.Sprintf("%s: permission denied (needs create or update)", h.prefix+dst)}
	}
	return nil
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

// allowMembers checks need on every member of the tree at src, named as
// under dst; root is the tree's root under dst, named in place of a member
// the user may not read.
func (h *Handler) allowMembers(ctx context.Context, src, dst, root string, need Perm, depth int) error {
	if depth > 1000 {
		return errorf(http.StatusForbidden, "%s: too deeply nested to check permissions", h.prefix+root)
	}
	return h.fs.ListDir(ctx, src, func(infos []os.FileInfo) error {
		for _, fi := range infos {
			s, d := path.Join(src, fi.Name()), path.Join(dst, fi.Name())
			if err := h.allow(d, need); err != nil {
				if !h.readable(d) {
					return &httpError{status: http.StatusForbidden, err: errPermission,
						reason: fmt.Sprintf("%s: permission denied (needs %s on everything below it)", h.prefix+root, need)}
				}
				return err
			}
			if fi.IsDir() && !h.perms.uniform(d) {
				if err := h.allowMembers(ctx, s, d, root, need, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// allowLock checks that the user may take a lock on name: create on a new
// resource, update on an existing one, and, for a Depth infinity lock on a
// collection, update on everything the lock covers, members created later
// included. Such a lock keeps everyone else from writing below name, which
// only someone who may write there may do. The check is on the rules, not
// on the members that exist, so it is conservative: a rule below name that
// denies update refuses the lock even where a later rule overrides it for
// some names.
func (h *Handler) allowLock(ctx context.Context, name string, exists, deep bool) error {
	if err := h.allow(name, createOrUpdate(exists)); err != nil {
		return err
	}
	if !deep || !exists || h.perms.uniform(name) {
		return nil
	}
	fi, err := h.fs.Stat(ctx, name)
	switch {
	case errors.Is(err, os.ErrNotExist), err == nil && !fi.IsDir():
		return nil // a file has no members; a vanished name is the lock's business
	case err != nil:
		return storageError(h.prefix+name, err) // never granted unchecked
	}
	if !h.perms.grantsBelow(name, PermUpdate) {
		return &httpError{status: http.StatusForbidden, err: errPermission, reason: fmt.Sprintf(
			"%s: permission denied (a Depth infinity lock needs update on everything below it; lock with Depth 0)", h.prefix+name)}
	}
	return nil
}

// readable reports whether a member may be listed: PROPFIND and GET of a
// collection leave out what the user may not read.
func (h *Handler) readable(name string) bool {
	return h.perms == nil || h.perms.For(name)&PermRead != 0
}
