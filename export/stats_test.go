package export

import "testing"

func TestNearClusters(t *testing.T) {
	hashes := []uint64{
		0x0123456789abcdef,
		0x0123456789abcdef ^ 1<<3 ^ 1<<40 ^ 1<<63, // 3 bits from the first
		0xfedcba9876543210,
		0xfedcba9876543210 ^ 0xf, // 4 bits from the third: not within 3
		0x0123456789abcdef,       // the first again
		0x5555555555555555,
	}
	roots := nearClusters(hashes, 3)
	if !(roots[0] == roots[1] && roots[0] == roots[4]) || roots[2] == roots[3] || roots[5] == roots[0] || roots[2] == roots[0] {
		t.Errorf("clusters %v", roots)
	}
	nd, want := summarizeClusters(roots, 3)
	if nd.Clusters != 1 || nd.Pages != 3 || len(nd.Top) != 1 || nd.Top[0].Size != 3 || len(want) != 3 {
		t.Errorf("summary %+v, want %v", nd, want)
	}
	if roots := nearClusters(hashes, 4); roots[2] != roots[3] {
		t.Errorf("within 4 bits: %v", roots)
	}
}

func TestErrorReason(t *testing.T) {
	const u = "http://127.0.0.1:9/x"
	for _, tc := range []struct {
		status int
		err    string
		want   string
	}{
		{404, "", "HTTP 404 Not Found"},
		{0, "fetch " + u + ": dial tcp 127.0.0.1:9: connect: connection refused", "connection refused"},
		{0, "fetch " + u + ": too many redirects (10)", "too many redirects (10)"},
		{0, "context deadline exceeded", "context deadline exceeded"},
		{503, "http 503 Service Unavailable", "http 503 Service Unavailable"},
		{503, "http 503 Service Unavailable (after 4 attempts)", "http 503 Service Unavailable"}, // an earlier crawl's record
		{0, "robots.txt unavailable: fetch " + u + ": EOF (after 3 attempts)", "EOF"},
	} {
		if got := ErrorReason(u, tc.status, tc.err); got != tc.want {
			t.Errorf("ErrorReason(%d, %q) = %q, want %q", tc.status, tc.err, got, tc.want)
		}
	}
}
