package webhook

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHookAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(http.ResponseWriter)
		want   string
	}{
		{"allow", Allow, `{"status":"ok"}`},
		{"allow with data", func(w http.ResponseWriter) {
			AllowWithData(w, map[string]string{"nickname": "Neo"})
		}, `{"status":"ok","data":{"nickname":"Neo"}}`},
		{"allow with raw data", func(w http.ResponseWriter) {
			AllowWithData(w, json.RawMessage(`{"score":1}`))
		}, `{"status":"ok","data":{"score":1}}`},
		{"deny", func(w http.ResponseWriter) {
			Deny(w, "not_found", "Player not found")
		}, `{"status":"error","code":"not_found","message":"Player not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			tt.answer(rec)
			if rec.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if got := rec.Body.String(); got != tt.want+"\n" {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAllowWithUnencodableDataIsAFailure(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	AllowWithData(rec, math.Inf(1))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
}

func TestEnvelopeDecodesHeraldBody(t *testing.T) {
	t.Parallel()
	body := `{"id":"evt_01","type":"user.created","timestamp":"2026-11-23T10:00:00Z",
		"project_id":"prj_1","data":{"user_id":"u_1"},"channels":["acct_42"],
		"metadata":{"request_id":"r1"}}`
	var env Envelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	if env.ID != "evt_01" || env.Type != "user.created" || env.ProjectID != "prj_1" {
		t.Errorf("envelope = %+v", env)
	}
	if !env.Timestamp.Equal(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("timestamp = %v", env.Timestamp)
	}
	if len(env.Channels) != 1 || env.Channels[0] != "acct_42" || env.Metadata["request_id"] != "r1" {
		t.Errorf("channels/metadata = %v %v", env.Channels, env.Metadata)
	}
	var data struct {
		UserID string `json:"user_id"`
	}
	if err := env.DecodeData(&data); err != nil || data.UserID != "u_1" {
		t.Errorf("DecodeData = %+v, %v", data, err)
	}
}
