// Package redistest runs a real redis-server for tests: on a free port of
// 127.0.0.1, with its files in a temporary directory, stopped when the test
// ends. Tests that use it are skipped when redis-server is not installed.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const skipMessage = "redis-server not installed (apt-get install redis-server): skipping the test of the Redis frontier"

var skippedOnce sync.Once

// noteSkipped says once per test binary, where the user sees it, that the
// Redis tests are skipped and how to run them. go test shows nothing but
// "ok" of a package whose tests pass, skips included, unless -v: what the
// test binary writes to its own stderr is kept from the user. So the note
// goes to the stderr of the go command that started the binary (on Linux,
// through /proc), and to the binary's own stderr otherwise (seen with -v).
// A result that go test cached ("ok (cached)") repeats nothing: the run
// that was cached said it.
func noteSkipped() {
	skippedOnce.Do(func() {
		note := "redistest: redis-server is not installed: the Redis tests of this package are skipped " +
			"(ok does not mean they passed). To run them: apt-get install redis-server, then go test again.\n"
		if f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", os.Getppid()), os.O_WRONLY|os.O_APPEND, 0); err == nil {
			_, err = f.WriteString(note)
			f.Close()
			if err == nil {
				return
			}
		}
		fmt.Fprint(os.Stderr, note)
	})
}

// Server is a running redis-server. Its methods are for the test's own
// goroutine.
type Server struct {
	Addr string // "127.0.0.1:PORT"
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan error
}

// Start starts redis-server with args added to its command line (such as
// "--appendonly", "yes"); without any, it keeps nothing on disk. It skips
// the test if redis-server is not installed.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		noteSkipped()
		t.Skip(skipMessage)
	}
	if len(args) == 0 {
		args = []string{"--save", "", "--appendonly", "no"}
	}
	s := &Server{dir: t.TempDir(), args: args}
	var err error
	for range 5 { // the free port found may be taken before redis binds it
		var l net.Listener
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		s.Addr = l.Addr().String()
		l.Close()
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { s.kill() })
	return s
}

// URL returns the server's address as `crawl --redis` takes it.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a client of the server, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// start runs redis-server and waits for its "Ready to accept connections"
// line (or its exit).
func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--logfile", "", "--daemonize", "no", "--protected-mode", "no"}, s.args...)
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan struct{})
	var log strings.Builder
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				io.Copy(io.Discard, out)
				break
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case <-ready:
		s.cmd, s.done = cmd, done
		return nil
	case err := <-done:
		return fmt.Errorf("redis-server on %s exited (%v):\n%s", s.Addr, err, log.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on %s not ready within 30s:\n%s", s.Addr, log.String())
	}
}

// Stop shuts the server down (SHUTDOWN, which saves if persistence is on)
// and waits for it to exit.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	c.Shutdown(context.Background()) // the connection closes: no reply
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("redis-server on %s did not stop within 30s", s.Addr)
	}
	s.cmd = nil
}

// Freeze stops the server's process (SIGSTOP) until the test ends: it
// keeps its connections and accepts new ones, and answers nothing, as a
// server that hangs or a network that drops packets would.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("redistest: freeze: %v", err)
	}
	t.Cleanup(func() { s.cmd.Process.Signal(syscall.SIGCONT) }) // before kill, so that it can exit
}

// Restart starts the server again on the same port and directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
}

func (s *Server) kill() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		<-s.done
		s.cmd = nil
	}
}

// Cluster is a Redis Cluster of three masters without replicas, on
// loopback, each a Server.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts three redis-server nodes with cluster mode on and
// joins them (redis-cli --cluster create), waiting until the cluster
// answers. It skips the test if redis-server or redis-cli is missing.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		noteSkipped()
		t.Skip(skipMessage)
	}
	c := &Cluster{}
	args := []string{"redis-cli", "--cluster", "create"}
	for range 3 {
		s := Start(t, "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, s)
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range c.Nodes {
		rdb := s.Client(t)
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster not ready within 30s: %v %s", err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, s := range c.Nodes {
		a = append(a, s.Addr)
	}
	return a
}

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
