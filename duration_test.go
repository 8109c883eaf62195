package herald

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationIsWrittenWithoutZeroUnits(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		5 * time.Second:                 `"5s"`,
		5 * time.Minute:                 `"5m"`,
		2 * time.Hour:                   `"2h"`,
		90 * time.Minute:                `"1h30m"`,
		time.Hour + time.Second:         `"1h0m1s"`,
		1500 * time.Millisecond:         `"1.5s"`,
		72 * time.Hour:                  `"72h"`,
		10*time.Minute + 30*time.Second: `"10m30s"`,
	} {
		b, err := json.Marshal(Duration(d))
		if err != nil || string(b) != want {
			t.Errorf("%v: got %s, want %s", d, b, want)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back.D() != d {
			t.Errorf("%s does not read back as %v: %v %v", b, d, back, err)
		}
	}
}

func TestDurationRejectsNonDurations(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`5`, `"5"`, `"five minutes"`, `null`, `{}`} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err == nil && in != `null` {
			t.Errorf("%s: accepted as %v", in, d)
		}
	}
}
