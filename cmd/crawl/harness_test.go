package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

// crawlBin is the crawl binary built once for the tests in this package.
var crawlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "crawl-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	crawlBin = filepath.Join(dir, "crawl")
	args := []string{"build", "-o", crawlBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building crawl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a crawl subprocess.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

// start starts the crawl binary with args; the process is killed when the
// test ends if it is still running.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(crawlBin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit (at most a minute) and returns its
// exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("crawl %q did not exit within a minute; stderr:\n%s", p.cmd.Args[1:], p.stderr.String())
	}
	if ee, ok := errors.AsType[*exec.ExitError](p.err); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// run runs the crawl binary to completion and returns its exit code, stdout
// and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	p := start(t, args...)
	code := p.wait(t)
	return code, p.stdout.String(), p.stderr.String()
}

// writeSeeds writes seeds to a seed file in dir and returns its path.
func writeSeeds(t *testing.T, dir string, seeds []string) string {
	t.Helper()
	path := filepath.Join(dir, "seeds.txt")
	if err := os.WriteFile(path, []byte("# test seeds\n"+strings.Join(seeds, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitPages blocks until the web has served n page requests.
func waitPages(t *testing.T, web *crawltest.Web, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := web.WaitRequests(ctx, n, func(r crawltest.Request) bool { return r.Path != "/robots.txt" }); err != nil {
		t.Fatal(err)
	}
}
