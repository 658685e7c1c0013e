package vtscreen

// lineRing is a ring of the text rows that scrolled off the top of the
// main screen, bounded by max rows.
type lineRing struct {
	max  int
	rows []string // grows to max, then wraps
	head int      // once full, the index of the oldest row
}

func (b *lineRing) push(row string) {
	if len(b.rows) < b.max {
		b.rows = append(b.rows, row)
		return
	}
	if b.max == 0 {
		return
	}
	b.rows[b.head] = row
	b.head = (b.head + 1) % b.max
}

// last returns the newest n rows, oldest first, or nil when there are none.
func (b *lineRing) last(n int) []string {
	n = min(n, len(b.rows))
	if n <= 0 {
		return nil
	}
	out := make([]string, n)
	start := b.head + len(b.rows) - n
	for i := range out {
		out[i] = b.rows[(start+i)%len(b.rows)]
	}
	return out
}

func (b *lineRing) clear() {
	b.rows, b.head = nil, 0
}
