package ui

import (
	"net/netip"
	"time"

	"github.com/herald-dev/herald/internal/ratelimit"
	"golang.org/x/time/rate"
)

// Failed logins allowed per client network: a burst of loginFailBurst, then
// one per loginFailEvery.
const (
	loginFailBurst = 10
	loginFailEvery = 6 * time.Second
	// loginFailFull is how long an emptied bucket takes to fill again.
	loginFailFull = loginFailBurst * loginFailEvery
)

// loginClientsMax bounds the networks remembered.
const loginClientsMax = 10_000

// loginOverflow is the bucket shared by the networks that find the map full,
// and by clients without a parseable address.
var loginOverflow netip.Prefix

// loginLimiter limits failed logins per client network. Each network has
// a token bucket; an attempt takes a token before its key is checked and a
// good key gives it back. So concurrent guesses cannot overshoot the limit,
// and successful logins do not count (but while over the limit every
// attempt is refused, a good key too: answering it would let guessing go on
// at full speed).
//
// Memory is bounded (ratelimit.Keyed): a bucket unused for loginFailFull is
// full again, the same as none, so sweeps drop those; if the map is still
// at loginClientsMax, new networks share loginOverflow, and a flood from
// many addresses slows logins from unknown addresses instead of growing the
// map.
type loginLimiter struct {
	clients *ratelimit.Keyed[netip.Prefix]
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{clients: ratelimit.New[netip.Prefix](rate.Every(loginFailEvery), loginFailBurst, loginClientsMax, now).
		WithOverflow(loginOverflow)}
}

// clientNetwork is what a client's failures count against: its IPv4
// address, or its IPv6 /64 (one host often holds a whole /64). The peer
// address is used, not X-Forwarded-For, which any client can write.
func clientNetwork(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return loginOverflow
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.WithZone("").Prefix(bits)
	return p
}

// begin takes a token for a login attempt from remoteAddr. Over the limit,
// it returns done nil and how long until the client may try again.
// Otherwise the caller checks the key and calls done with whether it was
// wrong.
func (l *loginLimiter) begin(remoteAddr string) (done func(failed bool), wait time.Duration) {
	lim, now := l.clients.Bucket(clientNetwork(remoteAddr))
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return nil, d
	}
	return func(failed bool) {
		if !failed {
			// At the reservation's own time: cancelling later gives
			// nothing back.
			res.CancelAt(now)
		}
	}, 0
}
