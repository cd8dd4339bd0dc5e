// Package version holds build information set by -ldflags.
package version

import "runtime/debug"

// Version is set with -ldflags "-X github.com/loadgate/loadgate/internal/version.Version=v1.2.3".
var Version = "dev"

// Commit is the VCS revision of the build, when known.
var Commit = ""

// String returns the version, with the VCS revision from build info when not set by ldflags.
func String() string {
	v, c := Version, Commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					c = s.Value[:12]
				}
			}
		}
	}
	if c != "" {
		return v + " (" + c + ")"
	}
	return v
}
