package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkConfigKeys reports the first key of the YAML document data that
// names nothing: its line:column, the closest allowed key, and every key
// allowed at that place. The document's shape is configFile's; the keys of
// its inline map are flagNames. A document that does not parse is left to
// the decoder, which says why.
func checkConfigKeys(data []byte, flagNames []string) error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	return checkKeys(doc.Content[0], reflect.TypeFor[configFile](), "", flagNames)
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkKeys walks n as a value of type t; where is n's place in the
// document (users[0].rules[1]; "" at the top), extra the keys of t's
// inline map, if it has one.
func checkKeys(n *yaml.Node, t reflect.Type, where string, extra []string) error {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil // decodes itself (words)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkKeys(n, t.Elem(), where, extra)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			if err := checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", where, i), nil); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
	default:
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	fields := map[string]reflect.StructField{}
	var allowed []string
	for f := range structFields(t) {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			continue
		}
		fields[name] = f
		allowed = append(allowed, name)
	}
	allowed = append(allowed, extra...)
	slices.Sort(allowed)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Value == "<<" { // a merge key: its values are checked where they are defined
			continue
		}
		f, ok := fields[key.Value]
		if !ok {
			if slices.Contains(extra, key.Value) {
				continue
			}
			place := "at the top level"
			if where != "" {
				place = "in " + where
			} else if r := removedFlag(key.Value); r != "" {
				return fmt.Errorf("%d:%d: key %q was removed: %s", key.Line, key.Column, key.Value, r)
			}
			hint := ""
			if s := closest(key.Value, allowed); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			return fmt.Errorf("%d:%d: unknown key %q %s%s; allowed there: %s",
				key.Line, key.Column, key.Value, place, hint, strings.Join(allowed, ", "))
		}
		child := key.Value
		if where != "" {
			child = where + "." + key.Value
		}
		if err := checkKeys(val, f.Type, child, nil); err != nil {
			return err
		}
	}
	return nil
}

// structFields yields the fields of struct type t.
func structFields(t reflect.Type) func(func(reflect.StructField) bool) {
	return func(yield func(reflect.StructField) bool) {
		for i := range t.NumField() {
			if !yield(t.Field(i)) {
				return
			}
		}
	}
}
