//go:build !race

package crawler

import "time"

// policerSlack is the slack of the politeness tests' policer: what a
// server's clock and scheduler add to a request's arrival (see race_test.go).
const policerSlack = 5 * time.Millisecond
