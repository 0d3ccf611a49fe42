//go:build race

package crawler

// raceEnabled: the race detector is on (see TestNoRuleNoDOM).
const raceEnabled = true
