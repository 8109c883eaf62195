// Command clients is built by .ci/generators against the clients that
// oapi-codegen (package oapi) and ogen (package ogenclient) generate from
// internal/api/openapi.json. With a Herald URL and its admin key as arguments it
// also runs: each client creates a project, an endpoint, sends an event
// with nested data, reads the event's deliveries and clears a field with
// null.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"example.com/heraldclients/oapi"
	"example.com/heraldclients/ogenclient"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Println("usage: clients HERALD_URL ADMIN_KEY")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base, admin := os.Args[1], os.Args[2]
	if err := withOapiCodegen(ctx, base, admin); err != nil {
		fail("oapi-codegen", err)
	}
	if err := withOgen(ctx, base, admin); err != nil {
		fail("ogen", err)
	}
}

func fail(who string, err error) {
	fmt.Fprintf(os.Stderr, "%s client: %v\n", who, err)
	os.Exit(1)
}

func bearer(key string) oapi.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	}
}

func withOapiCodegen(ctx context.Context, base, admin string) error {
	c, err := oapi.NewClientWithResponses(base)
	if err != nil {
		return err
	}
	slug := "oapi-codegen"
	p, err := c.CreateProjectWithResponse(ctx, oapi.CreateProjectJSONRequestBody{Name: "Shop", Id: &slug}, bearer(admin))
	if err != nil || p.JSON201 == nil {
		return fmt.Errorf("create project: %v %s", err, p.Body)
	}
	key := bearer(p.JSON201.ApiKey)
	until := time.Now().Add(time.Hour)
	ep, err := c.CreateEndpointWithResponse(ctx, slug, &oapi.CreateEndpointParams{}, oapi.CreateEndpointJSONRequestBody{
		Url: "http://127.0.0.1:9/webhooks", EventTypes: &[]string{"order.*"}, ActiveUntil: &until,
	}, key)
	if err != nil || ep.JSON201 == nil {
		return fmt.Errorf("create endpoint: %v %s", err, ep.Body)
	}
	sent, err := c.SendEventWithResponse(ctx, slug, &oapi.SendEventParams{}, oapi.SendEventJSONRequestBody{
		Type: "order.paid",
		Data: map[string]any{"order_id": "o_1", "lines": []any{map[string]any{"sku": "A", "qty": 2}}},
	}, key)
	if err != nil || sent.JSON202 == nil {
		return fmt.Errorf("send event: %v %s", err, sent.Body)
	}
	ds, err := c.ListDeliveriesWithResponse(ctx, slug, &oapi.ListDeliveriesParams{EventId: &sent.JSON202.Id}, key)
	if err != nil || ds.JSON200 == nil || len(ds.JSON200.Data) != 1 {
		return fmt.Errorf("list deliveries: %v %s", err, ds.Body)
	}
	fmt.Printf("oapi-codegen: event %s, delivery %s %s\n", sent.JSON202.Id, ds.JSON200.Data[0].Id, ds.JSON200.Data[0].Status)
	return nil
}

type bearerSource string

func (b bearerSource) Bearer(context.Context, ogenclient.OperationName) (ogenclient.Bearer, error) {
	return ogenclient.Bearer{Token: string(b)}, nil
}

func withOgen(ctx context.Context, base, admin string) error {
	ac, err := ogenclient.NewClient(base, bearerSource(admin))
	if err != nil {
		return err
	}
	res, err := ac.CreateProject(ctx, &ogenclient.ProjectCreate{Name: "Shop", ID: ogenclient.NewOptString("ogen")})
	if err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	p, ok := res.(*ogenclient.ProjectCreated)
	if !ok {
		return fmt.Errorf("create project: %T", res)
	}
	c, err := ogenclient.NewClient(base, bearerSource(p.APIKey))
	if err != nil {
		return err
	}
	epRes, err := c.CreateEndpoint(ctx, &ogenclient.EndpointCreate{
		URL: "http://127.0.0.1:9/webhooks", EventTypes: []string{"order.*"},
		ActiveUntil: ogenclient.NewOptDateTime(time.Now().Add(time.Hour)),
	}, ogenclient.CreateEndpointParams{Project: p.ID})
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	// The 201 declares the Idempotent-Replayed header, so ogen wraps the
	// endpoint with it.
	created, ok := epRes.(*ogenclient.CreateEndpointCreatedHeaders)
	if !ok {
		return fmt.Errorf("create endpoint: %T", epRes)
	}
	var cleared ogenclient.OptNilDateTime
	cleared.SetToNull()
	upRes, err := c.UpdateEndpoint(ctx, &ogenclient.EndpointUpdate{ActiveUntil: cleared},
		ogenclient.UpdateEndpointParams{Project: p.ID, ID: created.Response.ID})
	if err != nil {
		return fmt.Errorf("update endpoint: %w", err)
	}
	if up, ok := upRes.(*ogenclient.Endpoint); !ok || up.ActiveUntil.Set {
		return fmt.Errorf("update endpoint: active_until not cleared: %#v", upRes)
	}
	sentRes, err := c.SendEvent(ctx, &ogenclient.EventInput{
		Type: "order.paid",
		Data: ogenclient.EventInputData{"order_id": []byte(`"o_2"`), "lines": []byte(`[{"sku":"B","qty":1}]`)},
	}, ogenclient.SendEventParams{Project: p.ID})
	if err != nil {
		return fmt.Errorf("send event: %w", err)
	}
	sent, ok := sentRes.(*ogenclient.EventAccepted)
	if !ok {
		return fmt.Errorf("send event: %T", sentRes)
	}
	dsRes, err := c.ListDeliveries(ctx, ogenclient.ListDeliveriesParams{Project: p.ID, EventID: ogenclient.NewOptString(sent.ID)})
	if err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	ds, ok := dsRes.(*ogenclient.DeliveryList)
	if !ok || len(ds.Data) != 1 {
		return fmt.Errorf("list deliveries: %#v", dsRes)
	}
	fmt.Printf("ogen: event %s, delivery %s %s\n", sent.ID, ds.Data[0].ID, ds.Data[0].Status)
	return nil
}
