package dav

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Dead property values and lock owners are stored as the client sent them
// and written back, byte for byte, into every PROPFIND and LOCK response
// that mentions them. encoding/xml's decoder is more lenient than the XML
// 1.0 and Namespaces in XML grammars that clients parse responses with
// (expat, libxml2, MSXML): a fragment it accepts could make every later
// response about the resource unreadable. The checks here close that gap,
// so that what parseXML accepts always serialises as well-formed,
// namespace-well-formed XML:
//
//   - every character, wherever it appears (text, attribute values,
//     comments, processing instructions), is an XML 1.0 Char: no C0
//     control other than tab, CR and LF, no surrogate, no U+FFFE or
//     U+FFFF, and valid UTF-8 (checkXMLChars);
//   - every character reference (&#...;) names an XML Char: encoding/xml
//     turns &#xD800; into U+FFFD and accepts it, while the raw reference
//     is what is stored (checkCharRefs);
//   - attributes are separated by white space and none is repeated, by
//     qualified name or by namespace and local name (checkStartTag);
//   - element and attribute names are NCNames around their colon, and the
//     reserved prefixes xml and xmlns and their namespace names are bound
//     only as Namespaces in XML allows (checkStartTag);
//   - no processing instruction inside the document is named xml (in any
//     case) or has a colon in its target.

const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// isXMLChar reports whether r is a Char of XML 1.0.
func isXMLChar(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= utf8.MaxRune:
		return true
	}
	return false
}

// checkXMLChars refuses a body with invalid UTF-8 or a character XML 1.0
// does not allow anywhere in a document.
func checkXMLChars(body []byte) error {
	for i := 0; i < len(body); {
		if c := body[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return badXML("malformed XML: body contains the control character U+%04X, which XML does not allow", c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size == 1 {
			return badXML("malformed XML: body is not valid UTF-8 at byte %d", i)
		}
		if !isXMLChar(r) {
			return badXML("malformed XML: body contains U+%04X, which XML does not allow", r)
		}
		i += size
	}
	return nil
}

// checkCharRefs refuses character references in raw (the bytes of a start
// tag or of character data outside CDATA) to anything but an XML Char.
func checkCharRefs(raw []byte) error {
	for {
		i := bytes.Index(raw, []byte("&#"))
		if i < 0 {
			return nil
		}
		raw = raw[i+2:]
		end := bytes.IndexByte(raw, ';')
		if end < 0 {
			return badXML("unterminated character reference")
		}
		ref, base := raw[:end], 10
		if len(ref) > 0 && ref[0] == 'x' {
			ref, base = ref[1:], 16
		}
		n, err := strconv.ParseUint(string(ref), base, 32)
		if err != nil || !isXMLChar(rune(n)) {
			return badXML("character reference &#%s; is not an XML character", raw[:end])
		}
		raw = raw[end+1:]
	}
}

// checkStartTag checks what encoding/xml lets through in a start tag: raw
// is the tag's bytes, t its raw token (prefixes unresolved) and attrs its
// attributes with resolved namespaces, namespace declarations left out.
func checkStartTag(raw []byte, t xml.StartElement, attrs []xml.Attr) error {
	if err := checkCharRefs(raw); err != nil {
		return err
	}
	// After an attribute value's closing quote comes white space, / or >.
	var quote byte
	for i, c := range raw {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
				if i+1 < len(raw) && !bytes.ContainsRune([]byte(" \t\r\n/>"), rune(raw[i+1])) {
					return badXML("attributes of <%s> are not separated by white space", qualified(t.Name))
				}
			}
		case c == '"' || c == '\'':
			quote = c
		}
	}
	if !isNCNames(t.Name) {
		return badXML("element name %q is not a valid namespaced name", qualified(t.Name))
	}
	for i, a := range t.Attr {
		if !isNCNames(a.Name) {
			return badXML("attribute name %q is not a valid namespaced name", qualified(a.Name))
		}
		for _, b := range t.Attr[:i] {
			if a.Name == b.Name {
				return badXML("attribute %q appears twice", qualified(a.Name))
			}
		}
		prefix, uri := "", a.Value
		switch {
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
		case a.Name.Space == "" && a.Name.Local == "xmlns":
		default:
			continue
		}
		switch {
		case prefix == "xmlns":
			return badXML("the prefix xmlns cannot be declared")
		case prefix == "xml" && uri != nsXML:
			return badXML("the prefix xml cannot be bound to %q", uri)
		case prefix != "xml" && (uri == nsXML || uri == nsXMLNS):
			return badXML("the namespace %q is reserved", uri)
		}
	}
	for i, a := range attrs {
		for _, b := range attrs[:i] {
			if a.Name == b.Name {
				return badXML("attribute {%s}%s appears twice", a.Name.Space, a.Name.Local)
			}
		}
	}
	return nil
}

// isNCNames reports whether the prefix (if any) and local part of a raw
// name are names without a colon that start with a letter or underscore,
// as Namespaces in XML requires. encoding/xml checked the name as a whole,
// colon included, against XML 1.0's name characters.
func isNCNames(n xml.Name) bool {
	return (n.Space == "" || isNCName(n.Space)) && isNCName(n.Local)
}

func isNCName(s string) bool {
	if s == "" || bytes.ContainsRune([]byte(s), ':') {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r)
}

// isBadPITarget reports whether a processing instruction's target is
// xml in any case, which only the XML declaration may use, or has a colon.
func isBadPITarget(target string) bool {
	return len(target) == 3 && (target[0]|0x20) == 'x' && (target[1]|0x20) == 'm' && (target[2]|0x20) == 'l' ||
		bytes.ContainsRune([]byte(target), ':')
}
