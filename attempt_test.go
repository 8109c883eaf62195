package herald

import "testing"

func TestAttemptLastError(t *testing.T) {
	for _, c := range []struct {
		a    Attempt
		want string
	}{
		{Attempt{ResponseStatus: 200}, ""},
		{Attempt{ResponseStatus: 503, ErrorClass: "http_status", Error: "status 503"}, "status 503"},
		{Attempt{ErrorClass: "timeout"}, "timeout"},
	} {
		if got := c.a.LastError(); got != c.want {
			t.Errorf("LastError of %+v = %q, want %q", c.a, got, c.want)
		}
	}
}
