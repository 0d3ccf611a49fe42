package export

import (
	"cmp"
	"math/bits"
	"slices"
	"strconv"
)

// RecrawlCounts compares each fetched-again URL's newest version with the
// one before it: what the last pass of a recrawl found.
type RecrawlCounts struct {
	URLs        int `json:"urls"`         // URLs with more than one version
	Changed     int `json:"changed"`      // a new payload (another digest)
	Unchanged   int `json:"unchanged"`    // fetched whole, the same payload
	NotModified int `json:"not_modified"` // answered 304 Not Modified
	Failed      int `json:"failed"`       // the newest fetch failed (no response, or an error)
}

// NearDuplicates are the clusters of pages whose SimHashes are within
// Distance bits of another page of the cluster (single linkage).
type NearDuplicates struct {
	Distance int       `json:"distance"`
	Clusters int       `json:"clusters"` // clusters of two pages or more
	Pages    int       `json:"pages"`    // pages in those clusters
	Top      []Cluster `json:"top"`      // the largest, at most nearTop
}

// Cluster is one cluster of near-duplicate pages.
type Cluster struct {
	Size int      `json:"size"`
	URLs []string `json:"urls"` // the first few, in URL order
}

const (
	nearTop     = 5 // clusters listed
	nearTopURLs = 5 // URLs listed per cluster
	// nearWindow bounds the comparisons in one bucket of hashes that share
	// a 16-bit block: beyond nearBucket distinct hashes, each is compared
	// with its nearWindow neighbours in sorted order only.
	nearBucket = 2048
	nearWindow = 256
)

// parseSimHash reads a record's simhash field.
func parseSimHash(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	h, err := strconv.ParseUint(s, 16, 64)
	return h, err == nil
}

// nearClusters groups hashes (one per page, by page index) whose Hamming
// distance is at most d ≤ 3, and returns each page's cluster root. Two
// hashes within 3 bits agree on at least one of their four 16-bit blocks,
// so only hashes that share a block are compared (the permuted tables of
// Manku, Jain and Das Sarma, "Detecting near-duplicates for web crawling",
// WWW 2007). Larger d compares every pair.
func nearClusters(hashes []uint64, d int) []int32 {
	parent := make([]int32, len(hashes))
	for i := range parent {
		parent[i] = int32(i)
	}
	var find func(i int32) int32
	find = func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int32) {
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	// Identical hashes first: one representative each.
	order := make([]int32, len(hashes))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(hashes[a], hashes[b]) })
	var reps []int32
	for i, idx := range order {
		if i > 0 && hashes[order[i-1]] == hashes[idx] {
			union(order[i-1], idx)
			continue
		}
		reps = append(reps, idx)
	}
	if d <= 0 {
		return parent
	}
	near := func(a, b int32) bool { return bits.OnesCount64(hashes[a]^hashes[b]) <= d }
	if d > 3 {
		for i := range reps {
			for j := i + 1; j < len(reps); j++ {
				if near(reps[i], reps[j]) {
					union(reps[i], reps[j])
				}
			}
		}
		return parent
	}
	for block := range 4 {
		shift := uint(16 * block)
		key := func(i int32) uint64 { return hashes[i] >> shift & 0xffff }
		slices.SortFunc(reps, func(a, b int32) int {
			return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(hashes[a], hashes[b]))
		})
		for lo := 0; lo < len(reps); {
			hi := lo + 1
			for hi < len(reps) && key(reps[hi]) == key(reps[lo]) {
				hi++
			}
			window := hi - lo
			if window > nearBucket {
				window = nearWindow
			}
			for i := lo; i < hi; i++ {
				for j := i + 1; j < hi && j <= i+window; j++ {
					if near(reps[i], reps[j]) {
						union(reps[i], reps[j])
					}
				}
			}
			lo = hi
		}
	}
	for i := range parent {
		parent[i] = find(int32(i))
	}
	return parent
}

// summarizeClusters counts the clusters of roots (see nearClusters) and
// lists the largest in Top, largest first, without their URLs: want maps
// the page index of each of their first nearTopURLs members to its place
// in Top.
func summarizeClusters(roots []int32, d int) (nd *NearDuplicates, want map[int]int) {
	size := map[int32]int{}
	for _, r := range roots {
		size[r]++
	}
	nd = &NearDuplicates{Distance: d}
	var big []int32
	for r, n := range size {
		if n > 1 {
			nd.Clusters++
			nd.Pages += n
			big = append(big, r)
		}
	}
	slices.SortFunc(big, func(a, b int32) int { return cmp.Or(cmp.Compare(size[b], size[a]), cmp.Compare(a, b)) })
	if len(big) > nearTop {
		big = big[:nearTop]
	}
	place := map[int32]int{}
	for j, r := range big {
		place[r] = j
		nd.Top = append(nd.Top, Cluster{Size: size[r]})
	}
	want = map[int]int{}
	taken := make([]int, len(big))
	for i, r := range roots {
		if j, ok := place[r]; ok && taken[j] < nearTopURLs {
			taken[j]++
			want[i] = j
		}
	}
	return nd, want
}
