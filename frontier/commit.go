package frontier

import (
	"context"

	"github.com/politecrawl/crawl/store"
)

// Commit stores b in st in one transaction (pages, their entries out of
// the store's queues, new entries in, visited marks) and then hands the new
// entries to the in-memory queues.
//
// Entries that went through offer have their queue positions and are
// counted as queued; the others (seeds) go after them, as complete expects,
// and get their positions here.
func (f *Embedded) Commit(_ context.Context, st *store.Store, b *store.Batch) error {
	offeredFirst(b.Add)
	fresh := f.assign(b.Add)
	if err := st.Commit(b); err != nil {
		return err
	}
	f.settle(b.Done)
	f.complete(len(b.Done), Stored(b), b.Add, fresh)
	return nil
}

// settle forgets the handed-out entries of done, which the store no longer
// holds.
func (f *Embedded) settle(done []store.Done) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range done {
		delete(f.out, d.Entry.Seq)
	}
}

// offeredFirst moves the entries that have a queue position before those
// that have none, keeping the order of each.
func offeredFirst(es []store.Entry) {
	var fresh []store.Entry
	n := 0
	for _, e := range es {
		if e.Seq != 0 {
			es[n] = e
			n++
		} else {
			fresh = append(fresh, e)
		}
	}
	copy(es[n:], fresh)
}

// Stop ends the lookups running: URLs handed out and not committed are
// still in the store's queues, pending for the next run.
func (f *Embedded) Stop(context.Context) {
	f.stopLooking()
	// What was handed out and not committed is pending for a next Run.
	f.mu.Lock()
	clear(f.out)
	f.mu.Unlock()
}

func (f *Embedded) Changes() <-chan struct{} { return f.changed }

// Stored counts the records b stores.
func Stored(b *store.Batch) int {
	n := 0
	for _, d := range b.Done {
		if d.Page != nil && !d.Entry.Recrawl {
			n++ // a recrawl's record is a new version of a stored URL
		}
	}
	return n
}
