package portal

import (
	"strings"
	"testing"

	"github.com/herald-dev/herald/internal/service"
)

// Every locale has every message, with the same verbs.
func TestMessagesComplete(t *testing.T) {
	for _, loc := range service.PortalLocales {
		m, ok := messages[loc]
		if !ok {
			t.Fatalf("no messages for %s", loc)
		}
		for key, en := range messages["en"] {
			got, ok := m[key]
			if !ok {
				t.Errorf("%s: missing %q", loc, key)
				continue
			}
			if strings.Count(got, "%s") != strings.Count(en, "%s") {
				t.Errorf("%s %q: verbs differ from English", loc, key)
			}
		}
		for key := range m {
			if _, ok := messages["en"][key]; !ok {
				t.Errorf("%s: %q is not an English key", loc, key)
			}
		}
	}
}

func TestPickLocale(t *testing.T) {
	for _, c := range []struct{ session, accept, want string }{
		{"", "", "en"},
		{"ru", "fr", "ru"},
		{"", "fr-CH, fr;q=0.9, en;q=0.8", "fr"},
		{"", "de, ru;q=0.3, fr;q=0.2", "ru"},
		{"", "en;q=0.1, fr;q=0.9", "fr"},
		{"", "fr;q=0", "en"},
		{"", ";;;,,q=", "en"},
	} {
		if got := pickLocale(c.session, c.accept); got != c.want {
			t.Errorf("pickLocale(%q, %q) = %s, want %s", c.session, c.accept, got, c.want)
		}
	}
}
