//go:build !race

package peakrss

const race = false
