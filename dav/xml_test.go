package dav

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestParseXMLRejects(t *testing.T) {
	t.Parallel()
	laughs, _ := os.ReadFile("../testdata/xml/billion-laughs.xml")
	xxe, _ := os.ReadFile("../testdata/xml/external-entity.xml")
	tests := []struct {
		name, body, want string
	}{
		{"billion laughs", string(laughs), "DOCTYPE"},
		{"external entity", string(xxe), "DOCTYPE"},
		{"undeclared prefix", `<D:propfind xmlns:D="DAV:"><D:prop><x:a/></D:prop></D:propfind>`, "undeclared"},
		{"empty prefixed namespace", `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`, "empty name"},
		{"mismatched tags", `<D:propfind xmlns:D="DAV:"><D:prop></D:propfind></D:prop>`, "mismatched"},
		{"unclosed", `<D:propfind xmlns:D="DAV:"><D:prop>`, "ends before"},
		{"two roots", `<a/><b/>`, "more than one root"},
		{"text outside root", `<a/>junk`, "outside the root"},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, "not supported"},
		{"too deep", strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1), "deeper"},
		{"too many elements", "<r>" + strings.Repeat("<a/>", maxXMLElements) + "</r>", "more than"},
		{"huge name", "<" + strings.Repeat("n", 1<<16) + ">", "longer than"},
		{"huge closed name", "<" + strings.Repeat("n", maxXMLName+1) + "/>", "longer than"},
		{"huge namespace", `<a xmlns="` + strings.Repeat("n", maxXMLName+1) + `"/>`, "longer than"},
		{"many attributes", "<a" + strings.Repeat(` b=""`, 1) + attrs(maxXMLAttrs+1) + "/>", "attributes"},
		{"invalid utf-8", "<a>\xff\xfe</a>", "malformed"},
	}
	for _, tt := range tests {
		_, err := parseXML([]byte(tt.body))
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
		if he, ok := err.(*httpError); !ok || he.status != 400 {
			t.Errorf("%s: error %v is not a 400", tt.name, err)
		}
	}
}

func TestSelfContainedProperty(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("../testdata/xml/proppatch-namespaces.xml")
	if err != nil {
		t.Fatal(err)
	}
	root, err := parseXML(body)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := parsePropertyUpdate(body, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || !ops[2].remove || ops[2].prop.Name != (xml.Name{Space: "http://ns.example.com/z/", Local: "Copyright-Owner"}) {
		t.Fatalf("ops = %+v", ops)
	}
	authors := string(ops[0].prop.XML)
	for _, want := range []string{
		`xmlns:Z="http://ns.example.com/z/"`,
		`xml:lang="en"`,
		`<Z:Author xml:lang="de">Roy Fielding</Z:Author>`, // inner bytes verbatim
	} {
		if !strings.Contains(authors, want) {
			t.Errorf("stored %q lacks %q", authors, want)
		}
	}
	if note := string(ops[1].prop.XML); !strings.Contains(note, "a &amp; b &lt; c — ünïcødé</Z:note>") {
		t.Errorf("character data not kept byte for byte: %q", note)
	}
	// The stored fragment must stand on its own: it parses, and means the
	// same element, with the same language.
	for _, op := range ops[:2] {
		el, err := parseXML(op.prop.XML)
		if err != nil {
			t.Fatalf("stored fragment does not parse: %v\n%s", err, op.prop.XML)
		}
		if el.name != op.prop.Name || el.lang != "en" {
			t.Errorf("fragment means %v lang %q, want %v lang en", el.name, el.lang, op.prop.Name)
		}
	}
}

// attrs returns n distinct attributes.
func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` a%d=""`, i)
	}
	return b.String()
}
