package hook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/webhook"
)

// A sign-up service runs before_registration: an enrichment hook in data
// mode adds a nickname, then a validation hook refuses banned domains
// (docs/HOOKS.md walks through the same example over HTTP).
func ExampleRunner_Run() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "herald-example")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "herald.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true}, st)
	if err != nil {
		log.Fatal(err)
	}
	runner := hook.New(eng, hook.Config{})

	type registration struct{ Email, Name string }
	decode := func(r *http.Request) (reg registration) {
		var env webhook.Envelope
		_ = json.NewDecoder(r.Body).Decode(&env)
		_ = env.DecodeData(&reg)
		return reg
	}
	enrichSecret, validateSecret := webhook.NewSecret(), webhook.NewSecret()
	enrich := httptest.NewServer(webhook.Middleware(enrichSecret, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nickname, _, _ := strings.Cut(decode(r).Name, " ")
		webhook.AllowWithData(w, map[string]string{"nickname": nickname})
	})))
	defer enrich.Close()
	validate := httptest.NewServer(webhook.Middleware(validateSecret, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(decode(r).Email, "@spam.example") {
			webhook.Deny(w, "banned_domain", "Registrations from spam.example are not accepted")
			return
		}
		webhook.Allow(w)
	})))
	defer validate.Close()

	now := time.Now()
	p := &herald.Project{ID: "signup", Name: "Sign-up", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateProject(ctx, p); err != nil {
		log.Fatal(err)
	}
	for i, ep := range []*herald.Endpoint{
		{URL: enrich.URL, Secret: enrichSecret, ResponseMode: herald.ResponseData, FailurePolicy: herald.FailOpen},
		{URL: validate.URL, Secret: validateSecret, ResponseMode: herald.ResponseWait, FailurePolicy: herald.FailClosed},
	} {
		ep.ID, ep.ProjectID, ep.Order, ep.Enabled = herald.NewID(herald.PrefixEndpoint), p.ID, i+1, true
		ep.EventTypes, ep.Timeout, ep.Status = []string{"before_registration"}, herald.Duration(2*time.Second), herald.EndpointHealthy
		ep.CreatedAt, ep.UpdatedAt = now, now
		if err := st.CreateEndpoint(ctx, ep); err != nil {
			log.Fatal(err)
		}
	}

	for _, email := range []string{"neo@example.com", "neo@spam.example"} {
		body := fmt.Sprintf(`{"data":{"email":%q,"name":"Thomas Anderson"},"timeout":"5s"}`, email)
		res, err := runner.RunJSON(ctx, p, "before_registration", []byte(body))
		if err != nil {
			log.Fatal(err)
		}
		var outcomes []string
		for _, r := range res.Results {
			outcomes = append(outcomes, r.Outcome)
		}
		fmt.Println(res.Allowed, string(res.Data), res.Code, res.Message, outcomes)
	}
	// Output:
	// true {"email":"neo@example.com","name":"Thomas Anderson","nickname":"Thomas"}   [allowed allowed]
	// false {"email":"neo@spam.example","name":"Thomas Anderson","nickname":"Thomas"} banned_domain Registrations from spam.example are not accepted [allowed denied]
}
