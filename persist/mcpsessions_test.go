package persist

import (
	"reflect"
	"testing"
	"time"
)

func TestMCPSessions(t *testing.T) {
	s := openTest(t, Options{})
	recs := []MCPSession{
		{ID: "m-1", CreatedAt: t0, LastAccess: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour), ClientName: "claude", ClientVersion: "1.0", ProtocolVersion: "2025-06-18"},
		{ID: "m-2", CreatedAt: t0, LastAccess: t0, ExpiresAt: t0.Add(2 * time.Hour), Terminated: true},
	}
	if err := s.SaveMCPSessions(recs); err != nil {
		t.Fatal(err)
	}
	recs[0].LastAccess = t0.Add(2 * time.Minute) // upsert
	if err := s.SaveMCPSessions(recs[:1]); err != nil {
		t.Fatal(err)
	}
	for _, want := range recs {
		got, ok, err := s.LoadMCPSession(want.ID)
		if err != nil || !ok {
			t.Fatalf("LoadMCPSession(%s) = %v, %v", want.ID, ok, err)
		}
		for _, p := range []*time.Time{&got.CreatedAt, &got.LastAccess, &got.ExpiresAt} {
			*p = p.UTC()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LoadMCPSession(%s) = %+v, want %+v", want.ID, got, want)
		}
	}
	if _, ok, err := s.LoadMCPSession("m-none"); ok || err != nil {
		t.Errorf("LoadMCPSession of unknown id = %v, %v", ok, err)
	}
	n, err := s.DeleteMCPSessionsBefore(t0.Add(90 * time.Minute))
	if err != nil || n != 1 {
		t.Errorf("DeleteMCPSessionsBefore = %d, %v; want 1", n, err)
	}
	if _, ok, _ := s.LoadMCPSession("m-1"); ok {
		t.Error("expired m-1 still there")
	}
	if _, ok, _ := s.LoadMCPSession("m-2"); !ok {
		t.Error("m-2 deleted before it expired")
	}
}
