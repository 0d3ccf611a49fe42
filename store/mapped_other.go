//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// dropMapped is a no-op where the kernel is not told to drop mapped pages.
func (s *Store) dropMapped(*bolt.Tx) {}

// afterCommit is a no-op where mapped pages are not dropped.
func (s *Store) afterCommit(*bolt.Tx) {}

func rssFile() int64 { return -1 }
