// Fails with TS2322: `onExpired` receives an ExpiredEvent, not a HeartbeatEvent.
import { SessionKeeper, type HeartbeatEvent } from "session-keeper";

new SessionKeeper({
  url: "/api/heartbeat",
  onExpired: (event: HeartbeatEvent) => console.log(event.latencyMs),
});
