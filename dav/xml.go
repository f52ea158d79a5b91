package dav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// XML request bodies are parsed by a small namespace-aware reader over
// encoding/xml's RawToken, rather than by Unmarshal, for three reasons:
// RFC 4918 demands a 400 for namespace errors that encoding/xml accepts
// (undeclared prefixes, xmlns:p=""); dead property values must be kept
// byte for byte, which needs the raw input offsets; and hostile bodies
// must be cut off by explicit depth and size limits.

const (
	nsDAV = "DAV:"
	// maxXMLDepth bounds element nesting; property values are small trees.
	maxXMLDepth = 64
	// maxXMLElements bounds the element count of one body.
	maxXMLElements = 10000
	// maxXMLName bounds a local name or namespace URI: property names are
	// stored and echoed in every PROPFIND, and nobody needs kilobytes.
	maxXMLName = 1024
	// maxXMLAttrs bounds the attributes (namespace declarations included)
	// of one element.
	maxXMLAttrs = 64
)

// xmlElement is a parsed element with what PROPPATCH needs to store it.
type xmlElement struct {
	name     xml.Name // namespace URI and local name
	attrs    []xml.Attr
	children []*xmlElement
	text     strings.Builder // character data directly inside

	// start and end delimit the element's bytes in the body; nameEnd is
	// where its qualified name ends in the start tag.
	start, end, nameEnd int64
	scope               *nsScope
	ownDecl             map[string]string // declarations on this element
	lang                string            // xml:lang in effect
	ownLang             bool              // xml:lang set on this element itself
}

// nsScope is one element's namespace bindings, chained to its parent's.
type nsScope struct {
	parent *nsScope
	decl   map[string]string // prefix ("" for default) → URI
}

func (s *nsScope) lookup(prefix string) (string, bool) {
	for ; s != nil; s = s.parent {
		if uri, ok := s.decl[prefix]; ok {
			return uri, true
		}
	}
	if prefix == "" {
		return "", true // no default namespace in effect
	}
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	return "", false
}

// errBadXML marks a request body that is not acceptable XML.
var errBadXML = errors.New("malformed XML body")

func badXML(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, reason: fmt.Sprintf(format, args...), err: errBadXML}
}

// readXMLBody reads the whole body (already bounded by the handler) and
// parses it. An empty body gives a nil root and no error.
func readXMLBody(r *http.Request) ([]byte, *xmlElement, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	root, err := parseXMLBody(body)
	return body, root, err
}

// parseXMLBody parses a request body; a blank one gives a nil root.
func parseXMLBody(body []byte) (*xmlElement, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	return parseXML(body)
}

// readBody reads the whole request body (already bounded by the handler).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= 64<<10 {
		// The usual small body, read at its announced size: io.ReadAll
		// starts at 512 bytes, grows, and needs one more read to see EOF.
		// net/http delivers exactly Content-Length bytes.
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(r.Body)
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "XML body larger than %d bytes", tooLarge.Limit)
		}
		return nil, errorf(http.StatusBadRequest, "reading body: %v", err)
	}
	return body, nil
}

// parseXML builds the element tree of body.
//
// What it accepts serialises as well-formed XML, alone and embedded in a
// response (see xmlchars.go): the parts of body kept as dead properties
// or lock owners can be written back verbatim.
func parseXML(body []byte) (*xmlElement, error) {
	if err := checkXMLChars(body); err != nil {
		return nil, err
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not supported; use UTF-8", label)
	}
	var (
		root  *xmlElement
		stack []*xmlElement
		raw   []string // qualified names, to check that end tags match
		count int
	)
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, badXML("malformed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, badXML("XML body has more than one root element")
			}
			if count++; count > maxXMLElements {
				return nil, badXML("XML body has more than %d elements", maxXMLElements)
			}
			if len(stack) >= maxXMLDepth {
				return nil, badXML("XML body nests deeper than %d levels", maxXMLDepth)
			}
			if len(t.Attr) > maxXMLAttrs {
				return nil, badXML("XML element has more than %d attributes", maxXMLAttrs)
			}
			if len(t.Name.Local) > maxXMLName || len(t.Name.Space) > maxXMLName {
				return nil, badXML("XML element name longer than %d bytes", maxXMLName)
			}
			var parent *xmlElement
			var scope *nsScope
			lang := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
				scope, lang = parent.scope, parent.lang
			}
			el := &xmlElement{start: off, lang: lang}
			el.nameEnd = off + 1 + int64(len(qualified(t.Name)))
			decl := map[string]string{}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					if len(a.Value) > maxXMLName {
						return nil, badXML("XML namespace name longer than %d bytes", maxXMLName)
					}
					if a.Value == "" {
						return nil, badXML("namespace prefix %q declared with an empty name", a.Name.Local)
					}
					decl[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					if len(a.Value) > maxXMLName {
						return nil, badXML("XML namespace name longer than %d bytes", maxXMLName)
					}
					decl[""] = a.Value
				case a.Name.Space == "xml" && a.Name.Local == "lang":
					el.lang, el.ownLang = a.Value, true
				}
			}
			el.scope = scope
			if len(decl) > 0 {
				el.scope = &nsScope{parent: scope, decl: decl}
				el.ownDecl = decl
			}
			uri, ok := el.scope.lookup(t.Name.Space)
			if !ok {
				return nil, badXML("undeclared namespace prefix %q", t.Name.Space)
			}
			el.name = xml.Name{Space: uri, Local: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				auri := ""
				if a.Name.Space != "" {
					if auri, ok = el.scope.lookup(a.Name.Space); !ok {
						return nil, badXML("undeclared namespace prefix %q", a.Name.Space)
					}
				}
				el.attrs = append(el.attrs, xml.Attr{Name: xml.Name{Space: auri, Local: a.Name.Local}, Value: a.Value})
			}
			if err := checkStartTag(body[off:d.InputOffset()], t, el.attrs); err != nil {
				return nil, err
			}
			if parent != nil {
				parent.children = append(parent.children, el)
			} else {
				root = el
			}
			stack = append(stack, el)
			raw = append(raw, qualified(t.Name))
		case xml.EndElement:
			if len(stack) == 0 || raw[len(raw)-1] != qualified(t.Name) {
				return nil, badXML("mismatched end tag </%s>", qualified(t.Name))
			}
			el := stack[len(stack)-1]
			el.end = d.InputOffset()
			stack, raw = stack[:len(stack)-1], raw[:len(raw)-1]
		case xml.CharData:
			if raw := body[off:d.InputOffset()]; !bytes.HasPrefix(raw, []byte("<![CDATA[")) {
				if err := checkCharRefs(raw); err != nil {
					return nil, err
				}
			}
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, badXML("text outside the root element")
			}
		case xml.ProcInst:
			if off > 0 && isBadPITarget(t.Target) {
				return nil, badXML("processing instruction <?%s?> is reserved or not namespace-well-formed", t.Target)
			}
		case xml.Directive:
			// A DOCTYPE could declare entities; there is no need for one.
			return nil, badXML("XML directives (DOCTYPE) are not accepted")
		}
	}
	if len(stack) > 0 || root == nil {
		return nil, badXML("XML body ends before its root element closes")
	}
	return root, nil
}

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// is reports whether e is the DAV: element local.
func (e *xmlElement) is(local string) bool {
	return e != nil && e.name.Space == nsDAV && e.name.Local == local
}

// child returns the first DAV: child named local.
func (e *xmlElement) child(local string) *xmlElement {
	for _, c := range e.children {
		if c.is(local) {
			return c
		}
	}
	return nil
}

// selfContained returns the element's bytes from body as a standalone
// fragment: the namespace bindings and xml:lang it inherits from enclosing
// elements are declared on its start tag, and nothing else is changed.
func (e *xmlElement) selfContained(body []byte) []byte {
	var extra strings.Builder
	seen := map[string]bool{}
	for p := range e.ownDecl {
		seen[p] = true // declared on the element itself: already in its bytes
	}
	for s := e.scope; s != nil; s = s.parent {
		// Sorted: the same request must store the same bytes.
		for _, p := range slices.Sorted(maps.Keys(s.decl)) {
			uri := s.decl[p]
			if seen[p] {
				continue // shadowed by a closer declaration
			}
			seen[p] = true
			if p == "" {
				fmt.Fprintf(&extra, ` xmlns="%s"`, escapeAttr(uri))
			} else {
				fmt.Fprintf(&extra, ` xmlns:%s="%s"`, p, escapeAttr(uri))
			}
		}
	}
	if e.lang != "" && !e.ownLang {
		fmt.Fprintf(&extra, ` xml:lang="%s"`, escapeAttr(e.lang))
	}
	out := make([]byte, 0, int(e.end-e.start)+extra.Len())
	out = append(out, body[e.start:e.nameEnd]...)
	out = append(out, extra.String()...)
	out = append(out, body[e.nameEnd:e.end]...)
	return out
}
