package main

// The container image is FROM scratch, with no /usr/share/zoneinfo: embed the
// time zone database (~450 kB) so time.LoadLocation works there.
import _ "time/tzdata"
