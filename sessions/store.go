package sessions

import "time"

// Store keeps sessions' records and history. The persist package implements
// it over SQLite; a nil Store means memory only (history is what the
// in-memory rings still hold).
//
// Methods are safe for concurrent use. Output and events are batched by the
// store; SaveSession and AddRecovery are committed before they return.
type Store interface {
	// SaveSession inserts or replaces rec (with the fields a state
	// transition changes) and commits, together with everything queued.
	SaveSession(rec Record) error
	// AppendOutput queues one chunk of output. data is copied. It blocks
	// while too much is pending (back-pressure) and returns the writer's
	// last error if the writer has failed.
	AppendOutput(id ID, gen int, c Chunk) error
	// AppendEvent queues an input, resize, marker or status event.
	AppendEvent(ev Event) error
	// Touch marks a session's metadata dirty (output end, last activity);
	// a background tick writes it.
	Touch(id ID, outputEnd int64, at time.Time)
	// ReadOutput returns stored output of id beginning at offset from, at
	// most max bytes. start is the offset of data[0]: greater than from
	// when bytes before it were never stored or were cut by retention.
	// Queued, unflushed chunks are included.
	ReadOutput(id ID, from int64, max int) (data []byte, start int64, err error)
	// Chunks calls fn for each stored chunk of id from offset from on, in
	// order, until fn returns false.
	Chunks(id ID, from int64, fn func(Chunk) bool) error
	// OutputEnd is the offset just past the last stored byte of id.
	OutputEnd(id ID) (int64, error)
	// Session loads one record; ErrNotFound if there is none.
	Session(id ID) (Record, error)
	// Sessions loads all records, ended ones too when includeEnded.
	Sessions(includeEnded bool) ([]Record, error)
	// Events returns id's events in order of offset and time.
	Events(id ID) ([]Event, error)
	// AddRecovery records one recovery attempt.
	AddRecovery(a RecoveryAttempt) error
	// Recoveries lists id's recovery attempts, oldest first.
	Recoveries(id ID) ([]RecoveryAttempt, error)
	// Flush commits everything queued before it returns.
	Flush() error
}

// Leaser is the owner lease of several servers sharing one state dir. A
// session is attached by one live server at a time.
type Leaser interface {
	// Heartbeat registers owner (or refreshes it) as alive now.
	Heartbeat(owner Owner) error
	// Adopt makes owner the owner of session id if it has no owner, or its
	// owner is not registered, or its owner's heartbeat is older than
	// staleBefore. It reports whether owner now holds id (true also when it
	// already did). Two servers adopting at once: exactly one wins.
	Adopt(id ID, owner string, staleBefore time.Time) (bool, error)
	// Owners lists the registered owners with their last heartbeat.
	Owners() ([]Owner, error)
	// Release gives up every session owner holds and removes owner (a
	// graceful stop, or another server finding owner's pid dead).
	Release(owner string) error
}

// Owner is a server process on a state dir.
type Owner struct {
	ID        string
	Pid       int
	Host      string
	StartedAt time.Time
	Heartbeat time.Time
}
