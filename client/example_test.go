package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/herald-dev/herald/client"
)

// Send an event: Herald answers once the event and its deliveries are
// stored, and delivers them in the background.
func Example_sendEvent() {
	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HERALD_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	res, err := c.SendEvent(ctx, "shop", client.EventInput{
		Type:     "order.paid",
		Data:     map[string]any{"order_id": "o_1", "amount": 4200},
		Channels: []string{"acct_42"},
	})
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnprocessableEntity:
		for _, f := range apiErr.Errors {
			fmt.Println("invalid", f.Location, f.Message)
		}
		return
	case err != nil:
		log.Fatal(err)
	}
	fmt.Printf("%s stored, %d deliveries\n", res.ID, res.Deliveries)
}

// Subscribe a receiver to every user event, then show its secret once so
// the receiver can verify signatures.
func ExampleClient_CreateEndpoint() {
	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HERALD_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	ep, err := c.CreateEndpoint(context.Background(), "shop", client.EndpointCreate{
		URL:           "https://example.com/webhooks",
		EventTypes:    []string{"user.*"},
		Timeout:       "10s",
		RetrySchedule: []string{"1m", "10m", "1h"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.ID, ep.Secret)
}

// Ask the hooks subscribed to before_registration whether a registration
// may go on.
func ExampleClient_RunHook() {
	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HERALD_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	verdict, err := c.RunHook(context.Background(), "game", "before_registration", client.HookInput{
		Data:    map[string]string{"email": "neo@example.com"},
		Timeout: "3s",
	})
	if err != nil {
		log.Fatal(err)
	}
	if !verdict.Allowed {
		fmt.Println("refused:", verdict.Code, verdict.Message)
		return
	}
	fmt.Println("allowed with", string(verdict.Data))
}
