// Package storage holds davd's storage backends and the adapter that presents
// them to the WebDAV protocol layer.
//
// Every backend is an afero.Fs. The adapter (FileSystem) implements
// golang.org/x/net/webdav.FileSystem on top of one and adds what WebDAV needs
// beyond plain file access: atomic replacement of file content and names
// reserved for the server's own bookkeeping that clients can never reach.
//
// Regular files are handed out unwrapped whenever the backend gives *os.File,
// because net/http's sendfile and os.File's copy_file_range only work on the
// raw file.
package storage
