package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/url"
	"strconv"
	"time"
)

// Page is one page of a list, newest first (attempts: oldest first).
type Page[T any] struct {
	// Data holds the items of this page.
	Data []T `json:"data"`
	// NextCursor fetches the next page; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// MarshalJSON encodes the page as Herald answers it: an empty list as []
// and no next page as null, so that a page printed again (as the CLI does)
// reads like the API's own answer.
func (p Page[T]) MarshalJSON() ([]byte, error) {
	out := struct {
		Data       []T     `json:"data"`
		NextCursor *string `json:"next_cursor"`
	}{Data: p.Data}
	if out.Data == nil {
		out.Data = []T{}
	}
	if p.NextCursor != "" {
		out.NextCursor = &p.NextCursor
	}
	return json.Marshal(out)
}

// ListOptions selects a page of a list.
type ListOptions struct {
	// Limit is the page size; 0 means the server's default (50).
	Limit int
	// Cursor is a previous page's NextCursor; "" means the first page.
	Cursor string
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// All iterates over every item of a list, fetching page after page from
// the given cursor on. It stops at the first error, which it yields.
//
//	for ep, err := range client.All(ctx, func(ctx context.Context, cursor string) (*client.Page[client.Endpoint], error) {
//		return c.ListEndpoints(ctx, "shop", client.ListOptions{Cursor: cursor})
//	}) { … }
func All[T any](ctx context.Context, fetch func(ctx context.Context, cursor string) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		for {
			page, err := fetch(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range page.Data {
				if !yield(item, nil) {
					return
				}
			}
			if page.NextCursor == "" || page.NextCursor == cursor {
				return
			}
			cursor = page.NextCursor
		}
	}
}

func setTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, t.UTC().Format(time.RFC3339Nano))
	}
}

func setString(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}
