package storetest

import (
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// hookVerdict: a hook run's verdict is stored with its event and read back
// by GetEvent and ListEvents; other events have none.
func (s *suite) hookVerdict(t *testing.T) {
	b := s.setup(t)
	run := b.newEvent("before_registration", b.now)
	run.Hook = true
	run.HookVerdict = &herald.HookVerdict{Allowed: false, DeniedBy: "ep_x", Code: "not_found", Message: "Player not found"}
	plain := b.newEvent("user.created", b.now)
	b.insert(t, &store.NewEvent{Event: run}, &store.NewEvent{Event: plain})

	got, err := b.st.GetEvent(b.ctx, b.project.ID, run.ID)
	require.NoError(t, err)
	require.True(t, got.Hook)
	require.Equal(t, run.HookVerdict, got.HookVerdict)
	got, err = b.st.GetEvent(b.ctx, b.project.ID, plain.ID)
	require.NoError(t, err)
	require.Nil(t, got.HookVerdict)

	list, _, err := b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{}, store.Page{Limit: 10})
	require.NoError(t, err)
	verdicts := map[string]*herald.HookVerdict{}
	for _, e := range list {
		verdicts[e.ID] = e.HookVerdict
	}
	require.Equal(t, map[string]*herald.HookVerdict{run.ID: run.HookVerdict, plain.ID: nil}, verdicts)
}
