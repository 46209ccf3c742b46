// Package syncsvc serves the testground sync-service protocol (the one of
// github.com/testground/sync-service v0.1.0, which sdk-go's sync client
// speaks): JSON requests and responses over one websocket per instance,
// with publish/subscribe on topics and barriers on named states.
//
// Wire format (both directions JSON text frames):
//
//	request  {"id": ID, "is_cancel": bool,
//	          "publish": {"topic": T, "payload": ANY}
//	        | "subscribe": {"topic": T}
//	        | "barrier": {"state": S, "target": N}
//	        | "signal_entry": {"state": S}}
//	response {"id": ID, "error": "",
//	          "publish": {"seq": N}          (the topic's length after it)
//	        | "subscribe": "JSON of one payload" (one response per message, in order)
//	        | "signal_entry": {"seq": N}}     (the state's count after it)
//
// A barrier answers once the state's count reaches its target (at once for
// target 0) with an empty response; a cancel request ({"id": ID of a
// subscription, "is_cancel": true}) ends a subscription. Unlike v0.1.0, a
// subscription delivers messages as they are published rather than on a
// 100 ms tick; experiments must not time anything through it either way.
//
// The runner embeds the server, so it can also watch states (WaitState)
// and signal them (Signal): that is how scheduled kills follow a plan's
// stages.
package syncsvc
