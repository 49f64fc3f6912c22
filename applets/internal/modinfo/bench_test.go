package modinfo

import (
	"fmt"
	"runtime"
	"testing"

	"toybox-go/internal/testbin"
)

// BenchmarkIndexBuild measures Open + ScanAll (every module's .modinfo, the
// alias table) with a warm page cache, on the cloud kernel (about 1,100
// modules) and the generic one (about 4,000), with 1, 2 and GOMAXPROCS
// readers.
func BenchmarkIndexBuild(b *testing.B) {
	for _, flavour := range []string{"cloud-amd64", "amd64"} {
		dir, why := fetchKernel(b, flavour)
		if dir == "" {
			testbin.Unavailable(b, "%s", why)
		}
		for _, workers := range []int{1, 2, runtime.GOMAXPROCS(0) * 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", flavour, workers), func(b *testing.B) {
				n := 0
				for b.Loop() {
					ix, err := Open(dir, nil)
					if err != nil {
						b.Fatal(err)
					}
					ix.Workers = workers
					ix.ScanAll()
					n = len(ix.Names())
				}
				b.ReportMetric(float64(n), "modules")
			})
		}
	}
}

// BenchmarkLookupByName is the loader's common case: walk the tree, read one
// module and its dependencies (no alias table needed).
func BenchmarkLookupByName(b *testing.B) {
	dir, why := fetchKernel(b, "amd64")
	if dir == "" {
		testbin.Unavailable(b, "%s", why)
	}
	for b.Loop() {
		ix, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		m := ix.Get("bridge")
		for _, d := range m.Depends {
			ix.Get(d)
		}
	}
}
