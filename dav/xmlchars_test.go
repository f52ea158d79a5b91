package dav

import (
	"strings"

	"github.com/spf13/afero"
	"testing"
)

// TestStoredXMLIsWellFormed covers what encoding/xml accepts but XML 1.0
// and Namespaces in XML do not: PROPPATCH and LOCK must refuse it with 400,
// because the property value or lock owner would be stored verbatim and
// break every later PROPFIND (expat: "reference to invalid character
// number", "duplicate attribute", ...). The refused cases were checked
// with expat 2.5; the accepted ones must keep working.
func TestStoredXMLIsWellFormed(t *testing.T) {
	t.Parallel()
	refused := map[string]string{
		"surrogate reference":          `<x xmlns="urn:x">&#xD800;</x>`,
		"low surrogate reference":      `<x xmlns="urn:x">&#xDFFF;</x>`,
		"decimal surrogate reference":  `<x xmlns="urn:x">&#55296;</x>`,
		"padded surrogate reference":   `<x xmlns="urn:x">&#x0000D800;</x>`,
		"surrogate pair of references": `<x xmlns="urn:x" a="&#xD800;&#xDC00;"/>`,
		"surrogate in an attribute":    `<x xmlns="urn:x" a="&#xD800;"/>`,
		"surrogate in a namespace":     `<x xmlns:p="urn:&#xD800;"><p:y/></x>`,
		"U+FFFE reference":             `<x xmlns="urn:x">&#xFFFE;</x>`,
		"control reference":            `<x xmlns="urn:x">&#x1;</x>`,
		"NUL reference":                `<x xmlns="urn:x">&#0;</x>`,
		"control character":            "<x xmlns=\"urn:x\">\x01</x>",
		"U+FFFF":                       "<x xmlns=\"urn:x\">\uffff</x>",
		"control in a comment":         "<x xmlns=\"urn:x\"><!-- \x1b --></x>",
		"U+FFFE in a comment":          "<x xmlns=\"urn:x\"><!-- \ufffe --></x>",
		"control in a PI":              "<x xmlns=\"urn:x\"><?pi \x01?></x>",
		"bad UTF-8 in a comment":       "<x xmlns=\"urn:x\"><!-- \xff --></x>",
		"XML declaration inside":       `<x xmlns="urn:x"><?xml version="1.0"?></x>`,
		"PI named XmL":                 `<x xmlns="urn:x"><?XmL foo?></x>`,
		"PI target with a colon":       `<x xmlns="urn:x"><?a:b foo?></x>`,
		"duplicate attribute":          `<x xmlns="urn:x" a="1" a="2"/>`,
		"duplicate expanded attribute": `<x xmlns="urn:x" xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"/>`,
		"duplicate declaration":        `<x xmlns="urn:x" xmlns:p="u" xmlns:p="v"/>`,
		"attributes without space":     `<x xmlns="urn:x" a="1"b="2"/>`,
		"local name starts with digit": `<p:1b xmlns:p="urn:p"/>`,
		"empty prefix":                 `<:a xmlns="urn:x"/>`,
		"empty local name":             `<x xmlns="urn:x" a:="1"/>`,
		"xml prefix rebound":           `<x xmlns="urn:x" xmlns:xml="urn:other"/>`,
		"xmlns prefix declared":        `<x xmlns="urn:x" xmlns:xmlns="urn:other"/>`,
		"XML namespace bound":          `<x xmlns="urn:x" xmlns:p="http://www.w3.org/XML/1998/namespace"/>`,
		"xmlns namespace as default":   `<x xmlns="http://www.w3.org/2000/xmlns/"/>`,
	}
	accepted := []string{
		`<x xmlns="urn:x">&#x1F600;&#x9;&#xA;&#xD;&#65;</x>`,
		"<x xmlns=\"urn:x\">\ud7ff\ue000\U0001F600\x7f</x>",
		`<x xmlns="urn:x" xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>`,
		"<x xmlns=\"urn:x\"\ta=\"1\"\n/>",
		`<x xmlns="urn:x" a = "1" b='"'/>`,
		`<x xmlns="urn:x" xmlns:p="urn:p"><p:y p:a="1" a="2"/></x>`,
		`<x xmlns="urn:x"><![CDATA[&#xD800;]]><!-- &#xD800; --><?pi x?></x>`,
		`<él xmlns="urn:x"/>`,
		`<x xmlns="urn:x"><y xmlns=""/></x>`,
	}
	wrap := func(v string) string {
		return `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>` + v + `</D:prop></D:set></D:propertyupdate>`
	}
	for name, v := range refused {
		_, err := parseXML([]byte(wrap(v)))
		if he, ok := err.(*httpError); !ok || he.status != 400 {
			t.Errorf("%s: %q gave %v, want a 400", name, v, err)
		}
	}
	for _, v := range accepted {
		if _, err := parseXML([]byte(wrap(v))); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
}

// TestBadCharactersNotStored sends a surrogate reference as a property
// value and as a lock owner over HTTP: both are refused with 400, and the
// resource's PROPFIND stays free of them.
func TestBadCharactersNotStored(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{})
	if r := do(t, "PUT", srv.URL+"/f", nil, "x"); r.status != 201 {
		t.Fatalf("PUT: %d", r.status)
	}
	r := do(t, "PROPPATCH", srv.URL+"/f", nil, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">&#xD800;</x></D:prop></D:set></D:propertyupdate>`)
	if r.status != 400 {
		t.Errorf("PROPPATCH with &#xD800;: %d, want 400", r.status)
	}
	r = do(t, "LOCK", srv.URL+"/f", nil, `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>&#xD800;</D:owner></D:lockinfo>`)
	if r.status != 400 {
		t.Errorf("LOCK with owner &#xD800;: %d, want 400", r.status)
	}
	r = do(t, "PROPFIND", srv.URL+"/f", map[string]string{"Depth": "0"}, "")
	if r.status != 207 || strings.Contains(r.body, "&#xD800;") {
		t.Errorf("PROPFIND: %d %q", r.status, r.body)
	}
}
