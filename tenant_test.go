package herald

import (
	"errors"
	"strings"
	"testing"
)

func TestValidTenantID(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"acme", "org:42", "studio-7.eu", "A_b", "0", strings.Repeat("x", TenantIDMaxLen)} {
		if !ValidTenantID(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "has space", "a/b", "ü", "a*", strings.Repeat("x", TenantIDMaxLen+1), "a\n"} {
		if ValidTenantID(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestTenantValidateNamesEachField(t *testing.T) {
	t.Parallel()
	ok := Tenant{ID: "acme", Name: "Acme", Metadata: map[string]string{"plan": "pro"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid tenant: %v", err)
	}
	meta := map[string]string{"": "x"}
	for loc, bad := range map[string]Tenant{
		"path.tenant_id": {ID: "no spaces"},
		"body.name":      {ID: "a", Name: strings.Repeat("n", TenantNameMaxLen+1)},
		"body.metadata":  {ID: "a", Metadata: meta},
	} {
		var he *Error
		if err := bad.Validate(); !errors.As(err, &he) || he.Code != EINVALID || he.Fields[0].Location != loc {
			t.Errorf("%s: %v, want EINVALID at %s", loc, err, loc)
		}
	}
	var he *Error
	if err := (&Tenant{}).Validate(); !errors.As(err, &he) || he.Fields[0].Location != "path.tenant_id" {
		t.Errorf("missing id: %v", err)
	}
}

func TestEndpointReachesItsTenantOrEveryTenantWhenProjectWide(t *testing.T) {
	t.Parallel()
	wide, a := &Endpoint{}, &Endpoint{TenantID: "a"}
	for _, c := range []struct {
		ep     *Endpoint
		tenant string
		want   bool
	}{
		{wide, "", true}, {wide, "a", true}, {a, "a", true}, {a, "b", false}, {a, "", false},
	} {
		if got := c.ep.Reaches(c.tenant); got != c.want {
			t.Errorf("endpoint of %q, event of %q: %v, want %v", c.ep.TenantID, c.tenant, got, c.want)
		}
	}
}
