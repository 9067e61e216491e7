package pool

import (
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
)

// maxEvents is how many events are kept per pool.
const maxEvents = 100

// eventLog keeps the recent events of each pool, in memory.
type eventLog struct {
	mu     sync.Mutex
	events map[string][]api.PoolEvent
}

func (l *eventLog) add(pool, typ, reason, msg string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.events == nil {
		l.events = map[string][]api.PoolEvent{}
	}
	ev := l.events[pool]
	if n := len(ev); n > 0 && ev[n-1].Reason == reason && ev[n-1].Message == msg {
		ev[n-1].Count++
		ev[n-1].LastAt = at
		return
	}
	ev = append(ev, api.PoolEvent{Type: typ, Reason: reason, Message: msg, FirstAt: at, LastAt: at, Count: 1})
	if len(ev) > maxEvents {
		ev = ev[len(ev)-maxEvents:]
	}
	l.events[pool] = ev
}

func (l *eventLog) list(pool string) []api.PoolEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]api.PoolEvent{}, l.events[pool]...)
}

func (l *eventLog) forget(pool string) {
	l.mu.Lock()
	delete(l.events, pool)
	l.mu.Unlock()
}
