package store

import (
	"os"

	bolt "go.etcd.io/bbolt"
)

// Usage is what a database file holds, in bytes.
type Usage struct {
	File int64 // the file's size on disk (bbolt grows it ahead of use)
	Used int64 // the part bbolt has given out: its high-water mark
	// Buckets maps each top-level bucket (records, urls, frontier, seenlog,
	// …; see the schema above) to the bytes of the pages it takes, its
	// nested buckets included.
	Buckets map[string]int64
	Free    int64 // free pages inside Used, to be reused
}

// Usage measures what s's file holds, bucket by bucket. It reads every
// page of every bucket, so it is meant for benchmarks and summaries.
func (s *Store) Usage() (Usage, error) {
	u := Usage{Buckets: map[string]int64{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		u.Used = tx.Size()
		st := s.db.Stats()
		u.Free = int64(st.FreePageN+st.PendingPageN) * int64(tx.DB().Info().PageSize)
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			bs := b.Stats()
			u.Buckets[string(name)] = int64(bs.BranchAlloc + bs.LeafAlloc)
			return nil
		})
	})
	if err != nil {
		return u, err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return u, err
	}
	u.File = fi.Size()
	return u, nil
}
