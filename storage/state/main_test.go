package state

import (
	"os"
	"testing"

	"davd/storage/state/pgtest"
)

// TestMain stops the PostgreSQL server the tests may have started.
func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
