// Command demo-target serves the demo shop of `loadgate demo` on a loopback
// address, as a service under test started in an earlier workflow step (the
// dogfood workflow runs the action against it).
//
//	go run ./examples/demo-target -addr 127.0.0.1:8080 [-regress 30%] &
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/target"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (loopback: the runner's own network)")
	regress := flag.String("regress", "", "make POST /orders this much slower, e.g. 30%")
	flag.Parse()
	if err := run(*addr, *regress); err != nil {
		fmt.Fprintln(os.Stderr, "demo-target:", err)
		os.Exit(2)
	}
}

func run(addr, regress string) error {
	demo := target.NewDemo()
	if regress != "" {
		pct, err := strconv.ParseFloat(strings.TrimSuffix(regress, "%"), 64)
		if err != nil || pct <= 0 {
			return fmt.Errorf("-regress %q: want a percentage such as 30%%", regress)
		}
		if err := demo.Regress("/orders", 1+pct/100); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("demo shop on http://%s", ln.Addr())
	srv := &http.Server{Handler: demo, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
