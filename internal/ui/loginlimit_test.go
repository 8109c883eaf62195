package ui

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The HTTP behaviour is tested in ui_test; these are the limiter's
// accounting rules, with a clock that stands still unless moved.

func failLogin(l *loginLimiter, remoteAddr string) bool {
	done, _ := l.begin(remoteAddr)
	if done == nil {
		return false
	}
	done(true)
	return true
}

func TestLoginLimiterCountsAnIPv6SlashSixtyFourAsOneClient(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := newLoginLimiter(func() time.Time { return now })
	for i := range loginFailBurst {
		addr := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
		require.True(t, failLogin(l, netip.AddrPortFrom(addr, 4000).String()))
	}
	require.False(t, failLogin(l, "[2001:db8::ffff:1]:4001"), "same /64")
	require.True(t, failLogin(l, "[2001:db8:0:1::1]:4001"), "next /64")
	// An IPv4 address is one client however it is written.
	for range loginFailBurst {
		require.True(t, failLogin(l, "192.0.2.7:5000"))
	}
	require.False(t, failLogin(l, "[::ffff:192.0.2.7]:5001"))
	require.True(t, failLogin(l, "192.0.2.8:5000"))
}

func TestLoginLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := newLoginLimiter(func() time.Time { return now })
	addr := func(i int) string {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 4000).String()
	}
	// A flood of failures from more addresses than the map holds.
	refused := 0
	for i := range loginClientsMax + 1000 {
		if !failLogin(l, addr(i)) {
			refused++
		}
	}
	require.LessOrEqual(t, l.clients.Len(), loginClientsMax+1, "the networks plus the shared overflow bucket")
	// Past the bound the new addresses shared one bucket: a burst in all.
	require.Equal(t, 1000-loginFailBurst, refused)
	require.False(t, failLogin(l, addr(loginClientsMax+2000)))
	// Known addresses keep their own bucket.
	require.True(t, failLogin(l, addr(7)))

	// Once the buckets are full again, the next new address sweeps them.
	now = now.Add(loginFailFull)
	require.True(t, failLogin(l, addr(loginClientsMax+3000)))
	require.Equal(t, 1, l.clients.Len())
}
