//go:build !unix

package local

import "time"

// cpuTime is not measured on this platform; GeneratorCPU stays 0.
func cpuTime() time.Duration { return 0 }
