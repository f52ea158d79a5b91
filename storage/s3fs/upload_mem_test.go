package s3fs_test

import (
	"runtime"
	"runtime/debug"
	"testing"

	"davd/storage/s3fs/s3test"
)

// TestUploadMemory bounds what a multipart upload allocates and keeps.
// It is not parallel on purpose: it reads the whole process's memory
// statistics, and Go runs the parallel tests only after the sequential
// ones, so nothing else allocates while it measures.
func TestUploadMemory(t *testing.T) {
	s := s3test.Start(t)
	fs := open(t, s.URL(""))
	const size = 32 << 20
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	retained := func(ms *runtime.MemStats) uint64 { return ms.HeapInuse + ms.HeapIdle - ms.HeapReleased }

	debug.FreeOSMemory()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := fs.Create("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < size; n += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if fi, err := fs.Stat("/big.bin"); err != nil || fi.Size() != size {
		t.Fatalf("stat after upload: %v, %v", fi, err)
	}

	t.Logf("allocated %.1f MiB; heap kept %.1f MiB before, %.1f MiB after", float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), float64(retained(&before))/(1<<20), float64(retained(&after))/(1<<20))

	// Three 5 MiB parts in the transfer manager's pool and the first part
	// read with io.ReadAll (about 10 MiB allocated as it grows) make 25
	// MiB; with the SDK's default threshold the first read alone grew a
	// 16 MiB slice (about 32 MiB allocated).
	const allocBound = 42 << 20 // 26 MiB measured, 37 MiB under -race
	if a := after.TotalAlloc - before.TotalAlloc; a > allocBound {
		t.Errorf("a %d MiB upload allocated %.1f MiB, want at most %d MiB", size>>20, float64(a)/(1<<20), allocBound>>20)
	}
	// Once committed, the upload's buffers are collected and returned:
	// the next upload does not grow the heap on top of them.
	const keepBound = 8 << 20
	if r0, r1 := retained(&before), retained(&after); r1 > r0+keepBound {
		t.Errorf("after the upload the heap holds %.1f MiB, %.1f MiB more than before (want at most %d MiB more)",
			float64(r1)/(1<<20), float64(r1-r0)/(1<<20), keepBound>>20)
	}
}
