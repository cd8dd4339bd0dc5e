//go:build !unix

package local

import "net"

// sendConn is the unix read-callback send (sendconn_unix.go); elsewhere
// requests go through net.Conn as they are.
type sendConn struct{}

func newSendConn(c net.Conn) (net.Conn, *sendConn) { return c, nil }

func (c *sendConn) setHold(bool) {}

func (c *sendConn) held() bool { return false }
