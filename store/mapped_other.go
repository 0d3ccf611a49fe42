//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// dropMapped is a no-op where the kernel is not told to drop mapped pages.
func (s *Store) dropMapped(*bolt.Tx) {}
