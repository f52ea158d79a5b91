//go:build !linux

package main

import "syscall"

// dieWithParent has no equivalent here: a killed benchmark leaves its
// servers running.
func dieWithParent() *syscall.SysProcAttr { return nil }

// syncAll does nothing here; the settle time alone separates the steps.
func syncAll() {}
