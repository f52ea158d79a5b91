package main

import "syscall"

// dieWithParent makes a started server get SIGTERM when the benchmark
// dies, even when it is killed.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// syncAll flushes every filesystem (sync).
func syncAll() { syscall.Sync() }
