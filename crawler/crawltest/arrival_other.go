//go:build !linux

package crawltest

import (
	"net"
	"time"
)

// Without SO_TIMESTAMPNS, a request arrives when its handler starts.
func listenStamped(l net.Listener) net.Listener { return l }

func arrivalOf(net.Conn) (time.Time, bool) { return time.Time{}, false }
