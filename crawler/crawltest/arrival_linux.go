package crawltest

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stampListener accepts connections whose reads tell when the kernel
// received the bytes they return (SO_TIMESTAMPNS). A request's arrival is
// then the moment its bytes reached the host, not the moment the server's
// goroutine got to them, which a loaded machine (or the race detector)
// delays by milliseconds at times: the log is the host's view of the
// client's timing, free of the server's own.
type stampListener struct{ net.Listener }

// listenStamped turns stamps on for l's connections. It does so on the
// listening socket first: the kernel stamps packets only once some socket
// asked for stamps (a switch it flips asynchronously), so asking at Accept
// would leave the first requests of a web, the busiest moment, unstamped;
// and accepted sockets inherit the setting.
func listenStamped(l net.Listener) net.Listener {
	if tl, ok := l.(*net.TCPListener); ok {
		if raw, err := tl.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
			})
		}
	}
	return stampListener{l}
}

func (l stampListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return c, nil // no stamps: arrival falls back to the handler's clock
	}
	return &stampConn{TCPConn: tc, raw: raw}, nil
}

// stampConn is a TCP connection whose Read records the kernel's receive
// time of the data it returns.
type stampConn struct {
	*net.TCPConn
	raw interface {
		Read(func(fd uintptr) bool) error
	}
	last atomic.Int64 // Unix ns of the last data read; 0: none yet
	oob  [64]byte
}

func (c *stampConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n, oobn int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, c.oob[:], 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err != nil {
		return 0, err // a deadline, or the connection closed
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 {
		return 0, io.EOF
	}
	if msgs, err := unix.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS &&
				len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				c.last.Store(ts.Nano())
			}
		}
	}
	return n, nil
}

// arrival returns when the kernel received the last bytes read, or the
// zero time.
func (c *stampConn) arrival() time.Time {
	if ns := c.last.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// arrivalOf returns the kernel's receive time of the last bytes read from
// c, if c is a stamped connection that has read any.
func arrivalOf(c net.Conn) (time.Time, bool) {
	if sc, ok := c.(*stampConn); ok {
		t := sc.arrival()
		return t, !t.IsZero()
	}
	return time.Time{}, false
}
