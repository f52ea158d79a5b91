package s3fs_test

import (
	"context"
	"fmt"
	"testing"

	"davd/storage/s3fs/s3test"
)

// BenchmarkTreeParallel measures a COPY, MOVE and DELETE of 2,000
// objects in 20 prefixes for several pool sizes, to choose the default
// of parallel=: go test -run XXX -bench TreeParallel -benchtime 1x ./storage/s3fs/
func BenchmarkTreeParallel(b *testing.B) {
	s := s3test.Start(b)
	seed := map[string]string{}
	for d := range 20 {
		for i := range 100 {
			seed[fmt.Sprintf("src/d%02d/f%03d", d, i)] = "0123456789"
		}
	}
	s.Seed(seed)
	ctx := context.Background()
	none := func(string, bool, int64, error) {}
	for _, p := range []int{1, 4, 8, 16, 32, 64} {
		fs := open(b, s.URL("", fmt.Sprintf("parallel=%d", p)))
		b.Run(fmt.Sprintf("copy/parallel=%d", p), func(b *testing.B) {
			for range b.N {
				fs.CopyTree(ctx, "/src", "/copy", true, none)
				b.StopTimer()
				fs.RemoveTree(ctx, "/copy", none)
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("move/parallel=%d", p), func(b *testing.B) {
			for range b.N {
				fs.MoveTree(ctx, "/src", "/moved", none)
				b.StopTimer()
				fs.MoveTree(ctx, "/moved", "/src", none)
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("delete/parallel=%d", p), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				fs.CopyTree(ctx, "/src", "/del", true, none)
				b.StartTimer()
				fs.RemoveTree(ctx, "/del", none)
			}
		})
	}
}
