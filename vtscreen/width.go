package vtscreen

import (
	"unicode"

	"golang.org/x/text/width"
)

// runeWidth returns the columns r takes on a terminal: 0 for combining
// marks and other zero-width runes, 2 for East Asian Wide and Fullwidth
// runes (CJK, most emoji), 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf),
		r >= 0x1160 && r <= 0x11ff: // Hangul medial vowels and final consonants
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// decGraphics is the DEC Special Graphics (line drawing) set, for the bytes
// 0x5f-0x7e after ESC ( 0.
var decGraphics = [32]rune{
	' ', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼',
	'⎺', '⎻', '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
}
