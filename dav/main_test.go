package dav

import (
	"os"
	"testing"

	"davd/storage/state/pgtest"
)

// TestMain removes the PostgreSQL files tests may have made.
func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
