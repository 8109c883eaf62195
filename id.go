package herald

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Id prefixes.
const (
	PrefixProject  = "prj_"
	PrefixKey      = "key_"
	PrefixEndpoint = "ep_"
	PrefixEvent    = "evt_"
	PrefixDelivery = "dlv_"
	PrefixAttempt  = "att_"
)

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns prefix + a ULID: unique, and sortable by creation time (ids
// made in the same millisecond by one process sort in creation order).
func NewID(prefix string) string {
	idMu.Lock()
	id := ulid.MustNew(ulid.Timestamp(time.Now()), idEntropy)
	idMu.Unlock()
	return prefix + strings.ToLower(id.String())
}

// IDTime returns the creation time encoded in an id made by NewID.
func IDTime(id string) (time.Time, bool) {
	i := strings.IndexByte(id, '_')
	u, err := ulid.ParseStrict(strings.ToUpper(id[i+1:]))
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()), true
}
