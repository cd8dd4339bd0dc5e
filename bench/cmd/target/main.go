// Command target serves internal/target on loopback for the benchmarks:
// /fast, /delay?ms=N, /stall, /stats, … It prints its address on stdout.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loadgate/loadgate/internal/target"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	period := flag.Duration("stall-period", target.DefaultStallPeriod, "/stall period")
	stall := flag.Duration("stall-for", target.DefaultStallFor, "/stall stall length")
	addrFile := flag.String("addr-file", "", "also write the address to this file")
	freePort := flag.Bool("free-port", false, "print a free loopback port and exit (for other servers)")
	flag.Parse()
	if *freePort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		_ = ln.Close()
		return
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	a := ln.Addr().String()
	fmt.Println(a)
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(a), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Handler: target.New(target.Options{StallPeriod: *period, StallFor: *stall}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		<-c
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
