// Package dav is davd's WebDAV protocol layer: an http.Handler serving a
// storage.FileSystem under a URL prefix.
//
// It is built on golang.org/x/net/webdav and takes over wherever that
// package is unsafe or incomplete: the URL prefix is matched on a path
// segment boundary, request paths and Destination headers are validated
// before any storage call, PUT replaces content atomically, and GET on a
// collection lists it. Every response goes through processing.Writer, which
// keeps clients of slow operations alive with 102 Processing.
package dav
