//go:build race

package peakrss

// race: the race detector's shadow memory multiplies RSS.
const race = true
